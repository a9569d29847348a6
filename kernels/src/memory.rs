//! How much memory this process may still allocate, for the checks that refuse a problem
//! too big for the machine before anything allocates it.
//!
//! ```text
//! available = min( MemAvailable                         (/proc/meminfo: without swapping)
//!                , RLIMIT_AS − VmSize                   (ulimit -v, less the address space in use)
//!                , HARNESS_MEMORY_LIMIT                 (bytes, when set) )
//! ```
//!
//! The address-space limit counts every mapping, reserved or touched, so a process under
//! `ulimit -v` runs out long before the machine does: without that term a deconvolution at
//! 4096² under a 1.5 GB limit passed the check and then aborted on a 134 MB allocation.
//! Bounds that cannot be read (not Linux, no /proc) are left out; with none, there is no
//! check.

use crate::error::KernelError;

/// The environment variable that caps the memory the checks allow, in bytes.
pub const LIMIT_VAR: &str = "HARNESS_MEMORY_LIMIT";

/// The memory available, and the bound that set it (for the message).
#[derive(Clone, Debug, PartialEq)]
pub struct Available {
    pub bytes: u64,
    /// `MemAvailable`, `ulimit -v: 1.5 GB address space, 0.9 GB in use` or
    /// `HARNESS_MEMORY_LIMIT`.
    pub bound: String,
}

/// `HARNESS_MEMORY_LIMIT` in bytes (None: unset). Parsed strictly: digits only. `abc`, `-1`,
/// an empty value, `1e9` or `4GB` are an error, never "no limit" (a typo would otherwise
/// switch the check off and let a run abort on an allocation).
pub fn limit_from_env() -> Result<Option<u64>, KernelError> {
    let Some(value) = std::env::var_os(LIMIT_VAR) else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u64>() {
        Ok(bytes) if digits => Ok(Some(bytes)),
        _ => Err(KernelError::Environment {
            name: LIMIT_VAR,
            value: value.into_owned(),
            reason: "expected a number of bytes, digits only (8000000000 for 8 GB); unset it \
                     to use the memory the system reports"
                .into(),
        }),
    }
}

/// The memory this process may still allocate (see the module docs); None when no bound
/// can be read. An error only for a malformed `HARNESS_MEMORY_LIMIT`.
pub fn available() -> Result<Option<Available>, KernelError> {
    let limit = limit_from_env()?;
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let limits = std::fs::read_to_string("/proc/self/limits").ok();
    let status = std::fs::read_to_string("/proc/self/status").ok();
    Ok(least(
        meminfo.as_deref().and_then(mem_available),
        limits
            .as_deref()
            .and_then(address_space_limit)
            .zip(status.as_deref().and_then(address_space_in_use)),
        limit,
    ))
}

/// The least of the bounds that are known: MemAvailable, (RLIMIT_AS, VmSize), the
/// environment's limit.
pub fn least(
    mem_available: Option<u64>,
    address_space: Option<(u64, u64)>,
    env_limit: Option<u64>,
) -> Option<Available> {
    let gb = |b: u64| b as f64 / 1e9;
    let bounds = [
        mem_available.map(|b| Available {
            bytes: b,
            bound: "MemAvailable".into(),
        }),
        address_space.map(|(limit, used)| Available {
            bytes: limit.saturating_sub(used),
            bound: format!(
                "ulimit -v: {:.1} GB of address space, {:.1} GB in use",
                gb(limit),
                gb(used)
            ),
        }),
        env_limit.map(|b| Available {
            bytes: b,
            bound: LIMIT_VAR.into(),
        }),
    ];
    bounds.into_iter().flatten().min_by_key(|a| a.bytes)
}

/// `MemAvailable:` of /proc/meminfo, in bytes.
pub fn mem_available(meminfo: &str) -> Option<u64> {
    kib_field(meminfo, "MemAvailable:")
}

/// `VmSize:` of /proc/self/status (the address space this process maps now), in bytes.
pub fn address_space_in_use(status: &str) -> Option<u64> {
    kib_field(status, "VmSize:")
}

/// The soft limit of `Max address space` in /proc/self/limits, in bytes; None when
/// unlimited (or unreadable).
pub fn address_space_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max address space"))?;
    // Columns: soft limit, hard limit, units; "unlimited" or a number of bytes.
    line.split_whitespace().next()?.parse().ok()
}

/// A `Name:   1234 kB` line's value in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let rest = text.lines().find_map(|l| l.strip_prefix(name))?;
    let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
        Max cpu time              unlimited            unlimited            seconds   \n\
        Max address space         1536000000           unlimited            bytes     \n\
        Max file locks            unlimited            unlimited            locks     \n";

    #[test]
    fn the_address_space_limit_is_the_soft_one_and_unlimited_is_none() {
        assert_eq!(address_space_limit(LIMITS), Some(1_536_000_000));
        let unlimited = LIMITS.replace("1536000000 ", "unlimited  ");
        assert_eq!(address_space_limit(&unlimited), None);
        assert_eq!(address_space_limit("Max cpu time unlimited"), None);
    }

    #[test]
    fn kib_fields_are_read_in_bytes() {
        let status = "Name:\tharness\nVmPeak:\t  900000 kB\nVmSize:\t  887276 kB\n";
        assert_eq!(address_space_in_use(status), Some(887_276 * 1024));
        assert_eq!(
            mem_available("MemTotal: 10 kB\nMemAvailable:   20 kB\n"),
            Some(20 * 1024)
        );
        assert_eq!(mem_available("MemTotal: 10 kB\n"), None);
    }

    #[test]
    fn the_least_bound_wins_and_says_which_it_is() {
        let gb = 1_000_000_000;
        let a = least(Some(20 * gb), Some((3 * gb / 2, gb)), None).unwrap();
        assert_eq!(a.bytes, gb / 2);
        assert!(
            a.bound.contains("ulimit -v") && a.bound.contains("1.5 GB"),
            "{a:?}"
        );
        let a = least(Some(20 * gb), Some((3 * gb / 2, gb)), Some(1000)).unwrap();
        assert_eq!((a.bytes, a.bound.as_str()), (1000, LIMIT_VAR));
        let a = least(Some(2 * gb), None, Some(5 * gb)).unwrap();
        assert_eq!((a.bytes, a.bound.as_str()), (2 * gb, "MemAvailable"));
        // More address space in use than the limit (it was lowered): nothing is left.
        assert_eq!(least(None, Some((gb, 2 * gb)), None).unwrap().bytes, 0);
        assert_eq!(least(None, None, None), None);
    }
}
