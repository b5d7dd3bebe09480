//! pve-ontap-snapshot: pick the mode (CLI, hookscript, vzdump), run it, map errors to exit codes.
//! Everything else lives in the library; see `app::run`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use pve_ontap_snapshot::cli::{Cli, Command};
use pve_ontap_snapshot::{app, logging};

fn main() -> ExitCode {
    let args = pve_ontap_snapshot::cli::prepare_args(
        std::env::args_os().collect(),
        std::io::stdin().is_terminal(),
    );
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit 2; --help and --version exit 0.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let style = match cli.command {
        Command::Hook { .. }
        | Command::Vzdump { .. }
        | Command::Run { .. }
        | Command::InternalRescan { .. }
        | Command::InternalGuardian { .. } => logging::Style::Hook,
        _ => logging::Style::Cli,
    };
    let level = cli.log_level.map_or(log::LevelFilter::Info, |l| l.filter());
    logging::init(level, style);
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
