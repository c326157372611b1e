//! The `sqrtspace` command-line tool: `demo audio`, `plan --print`, `bench audio`, `plot`.
//! Everything lives in [`sqrtspace_cli`]; run `sqrtspace --help`.

fn main() -> std::process::ExitCode {
    sqrtspace_cli::main()
}
