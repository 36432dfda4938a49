//! The `zaitaku` binary: parse the command line, run it, and turn any error into one line on
//! stderr with exit code 2 (bad input, a rule violation) or 1 (anything else).

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match zaitaku::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        Err(e) => {
            // clap's own text spans several lines (usage, tips); IT staff get one line.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            eprintln!("zaitaku: {first} (see zaitaku --help)");
            return ExitCode::from(2);
        }
    };
    // The daemon logs what it does; a one-shot command only what went wrong. sqlx warns of any
    // statement over 1 s (a survey of a big wave takes longer on purpose) and of a connection
    // that took over 2 s to come (a busy machine): neither is the user's to act on, and a
    // one-shot command's stderr is its one line of error.
    let default_filter = if matches!(
        cli.command,
        zaitaku::cli::Command::Run { .. } | zaitaku::cli::Command::Web { .. }
    ) {
        "info,sqlx::query=error,sqlx::postgres::notice=warn"
    } else {
        "warn,sqlx::query=error,sqlx::pool::acquire=error,sqlx::postgres::notice=warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZAITAKU_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zaitaku: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(zaitaku::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: what went wrong, where, and what was expected.
            eprintln!("zaitaku: {e}");
            ExitCode::from(if e.is_bad_input() { 2 } else { 1 })
        }
    }
}
