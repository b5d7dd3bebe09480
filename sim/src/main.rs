//! The `pve-ontap-sim` binary: parse its flags (`--scenario` or `--scale`, `--bind`, ports, `--latency-ms`,
//! `--write-config`), start, write the config, print the JSON ready line, serve until killed.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pve_ontap_sim::scale::{self, ScaleSpec};
use pve_ontap_sim::{Scenario, Sim, SimOptions};

const USAGE: &str = "\
usage: pve-ontap-sim [--scenario FILE | --scale SPEC] [--print-scenario] [--bind ADDR]
                     [--pve-port N] [--ontap-port N] [--latency-ms N] [--write-config PATH]

Simulated NetApp ONTAP REST API and Proxmox VE API over HTTPS, sharing one in-memory state.

  --scenario FILE      starting state (JSON); default: the built-in scenario
  --scale SPEC         a generated scenario: nodes=16,guests=500,storages=20,svms=4,snapshots=2,
                       first-volume-snapshots=N,seed=1 (every key optional; see sim/README.md)
  --print-scenario     print the scenario as JSON and exit (e.g. to edit a generated one)
  --bind ADDR          address of both listeners (default 127.0.0.1)
  --pve-port N         Proxmox VE API port (default: a free port)
  --ontap-port N       ONTAP API port (default: a free port)
  --latency-ms N       delay added to every API response (default 0)
  --write-config PATH  write a ready config.ini for pve-ontap-snapshot (mode 0600)
  -h, --help           print this help
  -V, --version        print the version

On start, one JSON line goes to stdout:
  {\"pve\":\"https://..\",\"ontap\":\"https://..\",\"pve_fingerprint\":\"..\",\"ontap_fingerprint\":\"..\",\"config\":PATH|null}
Control API (no auth, both ports): /_sim/requests, /_sim/faults, /_sim/state, /_sim/reset,
/_sim/guests/<vmid>/write.";

/// What the command line asked for.
// Built once per process: the size of the `Run` variant (it carries the whole scenario) is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Command {
    Help,
    Version,
    Run {
        options: SimOptions,
        scenario: Option<PathBuf>,
        scale: Option<ScaleSpec>,
        print_scenario: bool,
        write_config: Option<PathBuf>,
    },
}

fn parse_number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid value {value:?} for {flag}: expected a number"))
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut options = SimOptions::default();
    let mut scenario = None;
    let mut scale = None;
    let mut print_scenario = false;
    let mut write_config = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        if arg == "-V" || arg == "--version" {
            return Ok(Command::Version);
        }
        if arg == "--print-scenario" {
            print_scenario = true;
            i += 1;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let known = [
            "--scenario",
            "--scale",
            "--bind",
            "--pve-port",
            "--ontap-port",
            "--latency-ms",
            "--write-config",
        ];
        if !known.contains(&flag) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?
            }
        };
        match flag {
            "--scenario" => scenario = Some(PathBuf::from(value)),
            "--scale" => {
                scale = Some(
                    value
                        .parse::<ScaleSpec>()
                        .map_err(|e| format!("invalid value {value:?} for --scale: {e}"))?,
                )
            }
            "--bind" => {
                options.bind = value.parse::<IpAddr>().map_err(|_| {
                    format!("invalid value {value:?} for --bind: expected an IP address")
                })?
            }
            "--pve-port" => options.pve_port = parse_number(flag, &value)?,
            "--ontap-port" => options.ontap_port = parse_number(flag, &value)?,
            "--latency-ms" => options.latency_ms = parse_number(flag, &value)?,
            _ => write_config = Some(PathBuf::from(value)),
        }
        i += 1;
    }
    if scenario.is_some() && scale.is_some() {
        return Err("--scenario and --scale exclude each other".into());
    }
    Ok(Command::Run {
        options,
        scenario,
        scale,
        print_scenario,
        write_config,
    })
}

/// Read and check a scenario file (unknown fields are errors).
fn load_scenario(path: &Path) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read scenario '{}': {e}", path.display()))?;
    let scenario: Scenario = serde_json::from_str(&text)
        .map_err(|e| format!("invalid scenario '{}': {e}", path.display()))?;
    let mut problems = scenario.ontap.validate();
    problems.extend(scenario.pve.validate());
    if !problems.is_empty() {
        return Err(format!(
            "invalid scenario '{}': {}",
            path.display(),
            problems.join("; ")
        ));
    }
    Ok(scenario)
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("pve-ontap-sim: error: {message}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut options, scenario, scale, print_scenario, write_config) = match parse_args(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("pve-ontap-sim {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run {
            options,
            scenario,
            scale,
            print_scenario,
            write_config,
        }) => (options, scenario, scale, print_scenario, write_config),
        Err(e) => return fail(2, &format!("{e}\n{USAGE}")),
    };
    if let Some(path) = &scenario {
        match load_scenario(path) {
            Ok(s) => options.scenario = s,
            Err(e) => return fail(2, &e),
        }
    }
    if let Some(spec) = &scale {
        options.scenario = scale::scenario(spec);
    }
    if print_scenario {
        return match serde_json::to_string_pretty(&options.scenario) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(1, &format!("cannot print the scenario: {e}")),
        };
    }
    let sim = match Sim::start(options) {
        Ok(sim) => sim,
        Err(e) => return fail(1, &e.to_string()),
    };
    if let Some(path) = &write_config {
        if let Err(e) = sim.write_config(path) {
            return fail(1, &e.to_string());
        }
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let line = sim.ready_line(write_config.as_deref());
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return fail(1, "cannot write the ready line to stdout");
        }
    }
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_every_flag() {
        let cmd = parse_args(&args(&[
            "--scenario",
            "s.json",
            "--bind=0.0.0.0",
            "--pve-port",
            "8006",
            "--ontap-port=8443",
            "--latency-ms",
            "25",
            "--write-config",
            "c.ini",
        ]))
        .unwrap();
        let Command::Run {
            options,
            scenario,
            write_config,
            ..
        } = cmd
        else {
            panic!("expected a run command");
        };
        assert_eq!(options.bind.to_string(), "0.0.0.0");
        assert_eq!((options.pve_port, options.ontap_port), (8006, 8443));
        assert_eq!(options.latency_ms, 25);
        assert_eq!(scenario.unwrap(), PathBuf::from("s.json"));
        assert_eq!(write_config.unwrap(), PathBuf::from("c.ini"));
    }

    #[test]
    fn refuses_bad_flags() {
        let err = |a: &[&str]| parse_args(&args(a)).unwrap_err();
        assert!(err(&["--frobnicate"]).contains("unknown argument \"--frobnicate\""));
        assert!(err(&["--pve-port"]).contains("--pve-port needs a value"));
        assert!(err(&["--pve-port", "x"]).contains("invalid value \"x\" for --pve-port"));
        assert!(err(&["--pve-port", "70000"]).contains("--pve-port"));
        assert!(err(&["--bind", "localhost"]).contains("expected an IP address"));
        assert!(err(&["--scale", "guestz=1"]).contains("invalid value \"guestz=1\" for --scale"));
        assert!(err(&["--scale", "guests=3", "--scenario", "s.json"])
            .contains("--scenario and --scale exclude each other"));
    }

    #[test]
    fn scale_specs_and_printing_parse() {
        let Command::Run {
            scale,
            print_scenario,
            ..
        } = parse_args(&args(&["--scale=guests=40,nodes=4", "--print-scenario"])).unwrap()
        else {
            panic!("expected a run command");
        };
        let spec = scale.unwrap();
        assert_eq!((spec.guests, spec.nodes, spec.storages), (40, 4, 20));
        assert!(print_scenario);
    }
}
