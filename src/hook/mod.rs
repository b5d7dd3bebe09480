//! Running as a Proxmox hook: the guest hookscript (`<vmid> <phase>`) and the vzdump hook
//! (`<phase> [<mode> <vmid>]`), the phase policies, deferred work and scheduled runs.
//!
//! Entry points for the command line: `run_hookscript`, `run_vzdump` (with `VzdumpEnv::from_process`)
//! and `run_schedule`.

pub mod coalesce;
pub mod engine;
pub mod freeze;
pub mod hookscript;
pub mod period;
pub mod schedule;
pub mod vzdump;

pub use engine::Connect;
pub use hookscript::run_hookscript;
pub use schedule::run_schedule;
pub use vzdump::{run_vzdump, VzdumpEnv};

#[cfg(test)]
mod tests {
    use super::engine::tests::{FakeOps, Tmp};
    use super::engine::{Ops, Start};
    use super::*;
    use crate::config::{Config, Policy, RawSection};
    use crate::error::{Error, Result};
    use crate::http::{Endpoint, Timeouts, TlsMode};
    use crate::ops::rescan::RescanMode;
    use crate::pve;
    use crate::secret::Secret;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn config(tmp: &Tmp, policy: &[(&str, &[(&str, &str)])]) -> Config {
        let sections = policy
            .iter()
            .map(|(name, entries)| RawSection {
                file: "/etc/pve-ontap-snapshot/config.ini".into(),
                name: name.to_string(),
                entries: entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })
            .collect();
        let mut storages = BTreeMap::new();
        storages.insert(
            "ONTAP01".to_string(),
            crate::ontap::Connection {
                endpoint: Endpoint {
                    base_url: "https://127.0.0.1:9".into(),
                    tls: TlsMode::Verify,
                    timeouts: Timeouts::default(),
                },
                user: "admin".into(),
                password: Secret::new("x"),
            },
        );
        Config {
            file: "/etc/pve-ontap-snapshot/config.ini".into(),
            proxmox: pve::Connection {
                endpoint: Endpoint {
                    base_url: "https://127.0.0.1:9".into(),
                    tls: TlsMode::Verify,
                    timeouts: Timeouts::default(),
                },
                auth: pve::Login::Password {
                    user: "root@pam".into(),
                    password: Secret::new("x"),
                },
            },
            storages,
            policy: Policy::from_sections(sections).unwrap(),
            paths: tmp.paths(),
            capacity: BTreeMap::new(),
        }
    }

    /// Counts how often the clients would have been built.
    struct Counter(AtomicUsize, Arc<FakeOps>);

    impl Counter {
        fn make(&self, _: &Config) -> Result<Arc<dyn Ops>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(self.1.clone())
        }
    }

    fn hs(vmid: u32, phase: &str) -> hookscript::Call<'_> {
        hookscript::Call {
            vmid,
            phase,
            migrated_from: None,
        }
    }

    #[test]
    fn phases_without_action_never_build_a_client() {
        let tmp = Tmp::new("fast");
        let cfg = config(&tmp, &[("hook", &[("post-stop", "storage-snapshot")])]);
        let counter = Counter(AtomicUsize::new(0), Arc::new(FakeOps::default()));
        let make = |c: &Config| counter.make(c);
        for phase in ["pre-start", "post-start", "pre-stop", "no-such-phase"] {
            let code = hookscript::run(hs(100, phase), Start::now(), || Ok(cfg.clone()), &make);
            assert_eq!(code.unwrap(), 0);
        }
        // An unknown phase is answered before the config is even read.
        let code = hookscript::run(
            hs(100, "bogus"),
            Start::now(),
            || panic!("read config"),
            &make,
        );
        assert_eq!(code.unwrap(), 0);
        for phase in ["job-start", "backup-end", "log-end", "new-phase"] {
            let (mode, vmid) = if phase.starts_with("job") {
                (None, None)
            } else {
                (Some("snapshot"), Some(100))
            };
            let call = vzdump::Call {
                phase,
                mode,
                vmid,
                env: &VzdumpEnv::default(),
                vzdump_pid: 1,
            };
            assert_eq!(
                vzdump::run(call, Start::now(), || Ok(cfg.clone()), &make).unwrap(),
                0
            );
        }
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);

        // The phase with an action does build them.
        let code = hookscript::run(
            hs(100, "post-stop"),
            Start::now(),
            || Ok(cfg.clone()),
            &make,
        );
        assert_eq!(code.unwrap(), 0);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_broken_config_never_blocks_a_hook() {
        let load = || -> Result<Config> {
            Err(Error::Config {
                file: "/x.ini".into(),
                section: None,
                key: None,
                message: "bad".into(),
            })
        };
        let make = |_: &Config| -> Result<Arc<dyn Ops>> { panic!("no clients") };
        assert_eq!(
            hookscript::run(hs(100, "pre-start"), Start::now(), load, &make).unwrap(),
            0
        );
        let call = vzdump::Call {
            phase: "job-start",
            mode: None,
            vmid: None,
            env: &VzdumpEnv::default(),
            vzdump_pid: 1,
        };
        assert_eq!(vzdump::run(call, Start::now(), load, &make).unwrap(), 0);
    }

    #[test]
    fn client_errors_follow_on_error() {
        let tmp = Tmp::new("clienterr");
        let cfg = config(
            &tmp,
            &[(
                "hook",
                &[
                    ("pre-start", "vm-snapshot"),
                    ("pre-start.on-error", "abort"),
                    ("post-stop", "vm-snapshot"),
                ],
            )],
        );
        let make = |_: &Config| -> Result<Arc<dyn Ops>> {
            Err(Error::Refused("cannot reach ONTAP".into()))
        };
        let code = hookscript::run(
            hs(100, "pre-start"),
            Start::now(),
            || Ok(cfg.clone()),
            &make,
        );
        assert_eq!(code.unwrap(), 1);
        let code = hookscript::run(
            hs(100, "post-stop"),
            Start::now(),
            || Ok(cfg.clone()),
            &make,
        );
        assert_eq!(code.unwrap(), 0);
    }

    #[test]
    fn live_migration_targets_are_skipped() {
        let tmp = Tmp::new("migrate");
        let cfg = config(&tmp, &[("hook", &[("pre-start", "vm-snapshot")])]);
        let counter = Counter(AtomicUsize::new(0), Arc::new(FakeOps::default()));
        let make = |c: &Config| counter.make(c);
        let call = hookscript::Call {
            vmid: 100,
            phase: "pre-start",
            migrated_from: Some("pve2"),
        };
        assert_eq!(
            hookscript::run(call, Start::now(), || Ok(cfg.clone()), &make).unwrap(),
            0
        );
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        // Empty PVE_MIGRATED_FROM is a normal start.
        let call = hookscript::Call {
            migrated_from: Some(""),
            ..call
        };
        assert_eq!(
            hookscript::run(call, Start::now(), || Ok(cfg.clone()), &make).unwrap(),
            0
        );
        assert_eq!(counter.1.vm_creates.lock().unwrap().len(), 1);
    }

    #[test]
    fn vzdump_phases_run_with_their_guest_and_defer_rescan_to_the_job_end() {
        let tmp = Tmp::new("vzdump");
        let cfg = config(
            &tmp,
            &[(
                "vzdump",
                &[
                    ("job-start", "storage-snapshot"),
                    ("job-start.storages", "ONTAP01"),
                    ("backup-start", "vm-snapshot"),
                    ("freeze", "yes"),
                    ("label", "backup"),
                ],
            )],
        );
        let ops = Arc::new(FakeOps::default());
        let make = |_: &Config| -> Result<Arc<dyn Ops>> { Ok(ops.clone()) };
        let env = VzdumpEnv {
            storeid: Some("local".into()),
            ..VzdumpEnv::default()
        };
        let job = vzdump::Call {
            phase: "job-start",
            mode: None,
            vmid: None,
            env: &env,
            vzdump_pid: 4242,
        };
        assert_eq!(
            vzdump::run(job, Start::now(), || Ok(cfg.clone()), &make).unwrap(),
            0
        );
        assert_eq!(ops.creates.load(Ordering::SeqCst), 1);
        assert_eq!(
            ops.snapshots.lock().unwrap()[0].label.as_deref(),
            Some("backup")
        );
        let guest = vzdump::Call {
            phase: "backup-start",
            mode: Some("snapshot"),
            vmid: Some(100),
            ..job
        };
        assert_eq!(
            vzdump::run(guest, Start::now(), || Ok(cfg.clone()), &make).unwrap(),
            0
        );
        assert_eq!(
            *ops.vm_creates.lock().unwrap(),
            vec![(
                100,
                crate::ops::quiesce::Consistency::Freeze,
                Some("backup".into())
            )]
        );
        assert_eq!(
            *ops.rescans.lock().unwrap(),
            vec![(
                100,
                RescanMode::Deferred {
                    vzdump_pid: Some(4242)
                }
            )]
        );

        // Wrong argv shapes are usage errors (exit 2), never silently ignored.
        let bad = vzdump::Call {
            phase: "backup-start",
            mode: None,
            vmid: None,
            ..job
        };
        let e = vzdump::run(bad, Start::now(), || Ok(cfg.clone()), &make).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("needs <mode> <vmid>"), "{e}");
        let bad = vzdump::Call {
            phase: "job-end",
            mode: Some("stop"),
            vmid: Some(100),
            ..job
        };
        assert_eq!(
            vzdump::run(bad, Start::now(), || Ok(cfg.clone()), &make)
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn schedules_snapshot_storages_and_guests() {
        let tmp = Tmp::new("schedule");
        let cfg = config(
            &tmp,
            &[(
                "schedule:hourly",
                &[
                    ("storages", "ONTAP01"),
                    ("guests", "100, 101"),
                    ("keep", "24"),
                ],
            )],
        );
        let ops = Arc::new(FakeOps::default());
        let make = |_: &Config| -> Result<Arc<dyn Ops>> { Ok(ops.clone()) };
        assert_eq!(
            schedule::run(&cfg, "hourly", Start::now(), &make).unwrap(),
            0
        );
        assert_eq!(ops.creates.load(Ordering::SeqCst), 1);
        assert_eq!(
            ops.snapshots.lock().unwrap()[0].label.as_deref(),
            Some("hourly")
        );
        assert_eq!(ops.vm_creates.lock().unwrap().len(), 2);
        assert_eq!(ops.prunes.lock().unwrap().len(), 1);
        assert_eq!(ops.vm_prunes.lock().unwrap().len(), 2);
        assert!(ops
            .rescans
            .lock()
            .unwrap()
            .iter()
            .all(|(_, w)| *w == RescanMode::Auto));

        let e = schedule::run(&cfg, "daily", Start::now(), &make).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("section [schedule:daily]: no such section; schedules: hourly"),
            "{e}"
        );

        let failing = Arc::new(FakeOps {
            fail_create: Some("ONTAP says no".into()),
            ..FakeOps::default()
        });
        let make = |_: &Config| -> Result<Arc<dyn Ops>> { Ok(failing.clone()) };
        assert_eq!(
            schedule::run(&cfg, "hourly", Start::now(), &make).unwrap(),
            1
        );
    }

    #[test]
    fn the_shipped_examples_are_valid_and_mean_what_they_say() {
        let base = "[proxmox]\nproxmox_host = 127.0.0.1\nproxmox_user = root@pam\n\
                    proxmox_pass = x\n[ONTAP01]\nhost = 127.0.0.1\nuser = u\npass = p\n\
                    [ONTAP02]\nhost = 127.0.0.1\nuser = u\npass = p\n";
        let text = format!(
            "{base}\n{}\n{}",
            include_str!("../../examples/hook-policy.ini"),
            include_str!("../../examples/schedule.ini")
        );
        let c = Config::parse(Path::new("/etc/pve-ontap-snapshot/config.ini"), &text).unwrap();
        let p = &c.policy;
        use crate::model::policy::{Action, OnError, Phase};
        let post = p.hook(101, Phase::PostStop).unwrap();
        assert_eq!(
            (post.action, post.label.as_str(), post.keep),
            (Action::StorageSnapshot, "poststop", Some(48))
        );
        assert_eq!(post.timeout, std::time::Duration::from_secs(120));
        let pre = p.hook(100, Phase::PreStart).unwrap();
        assert_eq!(
            (pre.action, pre.on_error, pre.keep),
            (Action::VmSnapshot, OnError::Abort, Some(5))
        );
        assert_eq!(p.hook(100, Phase::PostStop), None);
        let db = p.hook(103, Phase::PreStop).unwrap();
        assert!(db.freeze && db.keep_within.is_some());
        let job = p.vzdump(Phase::JobStart, None).unwrap();
        assert_eq!(job.storages, Some(vec!["ONTAP01".into(), "ONTAP02".into()]));
        assert_eq!(job.on_error, OnError::Abort);
        let g = p.vzdump(Phase::BackupStart, Some(101)).unwrap();
        assert_eq!(
            (g.action, g.label.as_str(), g.freeze),
            (Action::VmSnapshot, "backup101", true)
        );
        assert_eq!(p.vzdump(Phase::BackupStart, Some(100)), None);
        let hourly = p.schedule("hourly").unwrap();
        assert_eq!(
            (hourly.storages.len(), hourly.keep, hourly.freeze),
            (2, Some(24), true)
        );
        let nightly = p.schedule("nightly").unwrap();
        assert_eq!(nightly.guests, vec![100, 101, 200]);
        assert!(nightly.expiry.is_some() && nightly.keep_within.is_some());
        assert_eq!(
            hourly.max_age,
            Some(std::time::Duration::from_secs(2 * 3600))
        );
        let daily = p.schedule("daily").unwrap();
        assert_eq!(
            (daily.lock, daily.max_age),
            (
                Some(std::time::Duration::from_secs(30 * 86_400)),
                Some(std::time::Duration::from_secs(26 * 3600))
            )
        );
    }
}
