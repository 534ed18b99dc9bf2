// The explorer allocates and frees at every crash image (candidate disks, booted stores, their
// views): glibc's allocator took a quarter of its time. A library user keeps their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    crashsim::cli::binary::run()
}
