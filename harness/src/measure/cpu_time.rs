//! A process's CPU time (user + system, all its threads) from Linux's `/proc/PID/stat`:
//! the profiler's own (`profile::process_cpu_s`) and an external worker's
//! (`external::worker::Worker::cpu_seconds`). None where `/proc` is not there.

/// Clock ticks per second of `/proc`'s times: the kernel reports them in USER_HZ, which
/// is 100 on every architecture Linux's user ABI fixes it for (x86, arm, riscv).
const USER_HZ: f64 = 100.0;

/// CPU seconds of process `pid` so far (`"self"` for this one).
pub fn of_process(pid: &str) -> Option<f64> {
    of_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// utime + stime of a `/proc/PID/stat` line, in seconds. The command name (field 2) is in
/// parentheses and may hold spaces, so fields are counted after its closing one: state is
/// field 3, utime 14 and stime 15.
fn of_stat(stat: &str) -> Option<f64> {
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some((ticks(14)? + ticks(15)?) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A command name with a space and a parenthesis; utime 250 and stime 50 ticks.
        let stat = "4242 (py (worker) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 \
                    20 0 3 0 12345 1000000 500 18446744073709551615";
        assert_eq!(of_stat(stat), Some(3.0));
        assert_eq!(of_stat("4242 (cut"), None);
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(of_process("self").is_some_and(|s| s >= 0.0));
        }
    }
}
