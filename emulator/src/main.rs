//! The `mcc-emu` binary; see [`mcc_emu::cli`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    end_quietly_when_stdout_closes();
    let cli = mcc_emu::cli::Cli::parse();
    match cli.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mcc-emu: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A reader that stops early (`mcc-emu sweep PLAN --list | head`) closes
/// standard output, and `println!` then panics. End as a Unix tool killed by
/// SIGPIPE does instead: quietly, with status 141 (128 + SIGPIPE). Every
/// other panic goes to the default hook.
fn end_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if message.is_some_and(|m| {
            m.starts_with("failed printing to stdout") && m.contains("Broken pipe")
        }) {
            std::process::exit(141);
        }
        default(info);
    }));
}
