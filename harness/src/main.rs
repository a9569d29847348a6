//! The `harness` binary: the library's command line, with the counting allocator installed
//! so that bench rows can report bytes allocated per variant.

#[global_allocator]
static ALLOCATOR: harness::measure::memory::Counting = harness::measure::memory::Counting;

fn main() -> std::process::ExitCode {
    harness::main()
}
