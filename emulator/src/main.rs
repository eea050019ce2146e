//! The `mcc-emu` binary; see [`mcc_emu::cli`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = mcc_emu::cli::Cli::parse();
    match cli.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mcc-emu: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
