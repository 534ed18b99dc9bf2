fn main() -> std::process::ExitCode {
    crashsim::cli::binary::run()
}
