//! Phase → action policies from the `[hook]`, `[hook:<vmid>]`, `[vzdump]`, `[vzdump:<vmid>]` and
//! `[schedule:NAME]` sections. Validated at load time; each error names the file, section and key.
//!
//! Syntax (documented for users in `hooks/README.md`):
//! - `<phase> = none | vm-snapshot | storage-snapshot` sets a phase's action;
//! - `<setting> = value` applies to every phase of the section;
//! - `<phase>.<setting> = value` applies to that phase only.
//!
//! Settings: `keep`, `keep-within`, `label`, `freeze`, `timeout`, `lock-timeout`, `on-error`,
//! `storages`, `lock`. A value is looked up in this order: `[hook:<vmid>]` `<phase>.<setting>`,
//! `[hook:<vmid>]` `<setting>`, `[hook]` `<phase>.<setting>`, `[hook]` `<setting>`, built-in default
//! (the same with `vzdump`). A phase's action comes from `[hook:<vmid>]` first, then `[hook]`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::ini::RawSection;
use crate::error::{Error, Result};
use crate::model::names;
use crate::model::policy::{
    Action, HookKind, OnError, Phase, PhasePolicy, Schedule, DEFAULT_PERIOD, DEFAULT_TIMEOUT,
    MAX_LABEL_LEN, MAX_TIMEOUT,
};
use crate::model::retention;

/// Every policy section of the config, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The sections as read (in file order).
    pub sections: Vec<RawSection>,
    hook: Option<Layer>,
    hook_guests: BTreeMap<u32, Layer>,
    vzdump: Option<Layer>,
    vzdump_guests: BTreeMap<u32, Layer>,
    schedules: BTreeMap<String, Schedule>,
}

impl Policy {
    /// Validate the policy sections (names with `:` or `.`, or `hook` / `vzdump`).
    pub fn from_sections(sections: Vec<RawSection>) -> Result<Policy> {
        let mut policy = Policy {
            sections: sections.clone(),
            ..Policy::default()
        };
        for section in &sections {
            policy.add(section)?;
        }
        policy.validate()?;
        Ok(policy)
    }

    /// The effective policy of a hookscript phase for a guest; None when the phase has no action.
    pub fn hook(&self, vmid: u32, phase: Phase) -> Option<PhasePolicy> {
        self.effective(HookKind::Guest, Some(vmid), phase)
            .filter(|p| p.action != Action::None)
    }

    /// The effective policy of a vzdump phase (guest phases: for that guest); None without action.
    pub fn vzdump(&self, phase: Phase, vmid: Option<u32>) -> Option<PhasePolicy> {
        self.effective(HookKind::Vzdump, vmid, phase)
            .filter(|p| p.action != Action::None)
    }

    pub fn schedule(&self, name: &str) -> Option<&Schedule> {
        self.schedules.get(name)
    }

    pub fn schedules(&self) -> impl Iterator<Item = &Schedule> {
        self.schedules.values()
    }

    /// Every guest with a policy: `[hook:<vmid>]`, `[vzdump:<vmid>]` and the schedules' `guests`.
    pub fn guests(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .hook_guests
            .keys()
            .chain(self.vzdump_guests.keys())
            .copied()
            .chain(
                self.schedules
                    .values()
                    .flat_map(|s| s.guests.iter().copied()),
            )
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn add(&mut self, section: &RawSection) -> Result<()> {
        let name = section.name.as_str();
        let (base, arg) = match name.split_once(':') {
            Some((base, arg)) => (base, Some(arg)),
            None => (name, None),
        };
        match (base, arg) {
            ("hook", None) => self.hook = Some(Layer::parse(section, HookKind::Guest, false)?),
            ("vzdump", None) => self.vzdump = Some(Layer::parse(section, HookKind::Vzdump, false)?),
            ("hook", Some(vmid)) => {
                let vmid = parse_section_vmid(section, vmid)?;
                let layer = Layer::parse(section, HookKind::Guest, true)?;
                self.hook_guests.insert(vmid, layer);
            }
            ("vzdump", Some(vmid)) => {
                let vmid = parse_section_vmid(section, vmid)?;
                let layer = Layer::parse(section, HookKind::Vzdump, true)?;
                self.vzdump_guests.insert(vmid, layer);
            }
            ("schedule", Some(sched)) => {
                let schedule = parse_schedule(section, sched)?;
                self.schedules.insert(schedule.name.clone(), schedule);
            }
            _ => {
                return Err(section.error(
                    None,
                    "not a policy section: expected [hook], [hook:<vmid>], [vzdump], \
                     [vzdump:<vmid>] or [schedule:<name>] (section names containing ':' or '.' \
                     are reserved for policy; storage sections are named by the storage id)",
                ))
            }
        }
        Ok(())
    }

    /// Checks that need the merged view: every (guest, phase) combination as it will run.
    fn validate(&self) -> Result<()> {
        for (kind, default, guests) in [
            (HookKind::Guest, &self.hook, &self.hook_guests),
            (HookKind::Vzdump, &self.vzdump, &self.vzdump_guests),
        ] {
            let mut combos: Vec<Vec<&Layer>> = Vec::new();
            if let Some(d) = default {
                combos.push(vec![d]);
            }
            for g in guests.values() {
                combos.push(std::iter::once(g).chain(default.iter()).collect());
            }
            for layers in combos {
                for &phase in kind.phases() {
                    if phase.is_job() && layers.len() > 1 {
                        continue;
                    }
                    resolve(kind, &layers, phase)?;
                }
            }
        }
        Ok(())
    }

    fn effective(&self, kind: HookKind, vmid: Option<u32>, phase: Phase) -> Option<PhasePolicy> {
        if phase.kind() != kind {
            return None;
        }
        let (default, guests) = match kind {
            HookKind::Guest => (&self.hook, &self.hook_guests),
            HookKind::Vzdump => (&self.vzdump, &self.vzdump_guests),
        };
        let guest = match vmid {
            Some(vmid) if !phase.is_job() => guests.get(&vmid),
            _ => None,
        };
        let layers: Vec<&Layer> = guest.into_iter().chain(default.iter()).collect();
        if layers.is_empty() {
            return None;
        }
        // Every combination was resolved once at load time, so this cannot fail here.
        resolve(kind, &layers, phase).ok()
    }
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    file: PathBuf,
    section: String,
    key: String,
}

impl Origin {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::Config {
            file: self.file.clone(),
            section: Some(self.section.clone()),
            key: Some(self.key.clone()),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Val<T> {
    value: T,
    origin: Origin,
}

/// Settings given in one place (a section, or one phase of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Settings {
    keep: Option<Val<usize>>,
    keep_within: Option<Val<Duration>>,
    label: Option<Val<String>>,
    freeze: Option<Val<bool>>,
    timeout: Option<Val<Duration>>,
    lock_timeout: Option<Val<Duration>>,
    on_error: Option<Val<OnError>>,
    storages: Option<Val<Vec<String>>>,
    lock: Option<Val<Duration>>,
    max_pause: Option<Val<Duration>>,
}

const SETTINGS: &[&str] = &[
    "keep",
    "keep-within",
    "label",
    "freeze",
    "timeout",
    "lock-timeout",
    "on-error",
    "storages",
    "lock",
    "max-pause",
];

impl Settings {
    /// Parse one setting; `Ok(false)` when `setting` is not a setting name.
    fn set(&mut self, setting: &str, value: &str, origin: Origin) -> Result<bool> {
        macro_rules! put {
            ($field:ident, $parsed:expr) => {{
                let value = $parsed;
                self.$field = Some(Val { value, origin });
            }};
        }
        match setting {
            "keep" => put!(keep, parse_keep(value, &origin)?),
            "keep-within" => put!(keep_within, parse_duration(value, &origin)?),
            "label" => put!(label, parse_label(value, &origin)?),
            "freeze" => put!(freeze, parse_bool(value, &origin)?),
            "timeout" => put!(timeout, parse_timeout(value, &origin)?),
            "lock-timeout" => put!(lock_timeout, parse_timeout(value, &origin)?),
            "on-error" => put!(
                on_error,
                match value.trim() {
                    "continue" => OnError::Continue,
                    "abort" => OnError::Abort,
                    other => {
                        return Err(origin.error(format!(
                            "'{other}' is not an on-error value: use continue or abort"
                        )));
                    }
                }
            ),
            "storages" => put!(storages, parse_storages(value, &origin)?),
            "lock" => put!(lock, parse_duration(value, &origin)?),
            "max-pause" => put!(max_pause, parse_duration(value, &origin)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PhaseEntry {
    action: Option<Val<Action>>,
    settings: Settings,
}

/// One validated `[hook]`-like section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layer {
    common: Settings,
    phases: BTreeMap<Phase, PhaseEntry>,
}

impl Layer {
    fn parse(section: &RawSection, kind: HookKind, per_guest: bool) -> Result<Layer> {
        let mut layer = Layer {
            common: Settings::default(),
            phases: BTreeMap::new(),
        };
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in &section.entries {
            if seen.contains(&key.as_str()) {
                return Err(section.error(Some(key), "given twice in this section"));
            }
            seen.push(key);
            let origin = Origin {
                file: section.file.clone(),
                section: section.name.clone(),
                key: key.clone(),
            };
            let (phase_name, setting) = match key.split_once('.') {
                Some((p, s)) => (Some(p), Some(s)),
                None if kind.phase(key).is_some() => (Some(key.as_str()), None),
                None => (None, Some(key.as_str())),
            };
            let phase = match phase_name {
                None => None,
                Some(p) => Some(kind.phase(p).ok_or_else(|| {
                    origin.error(format!(
                        "'{p}' is not a {} phase; phases: {}",
                        kind.section(),
                        phase_list(kind)
                    ))
                })?),
            };
            if let Some(phase) = phase {
                if per_guest && phase.is_job() {
                    return Err(origin.error(format!(
                        "{phase} is a job phase (no guest); set it in [{}]",
                        kind.section()
                    )));
                }
            }
            match (phase, setting) {
                (Some(phase), None) => {
                    let action = Action::parse(value.trim()).ok_or_else(|| {
                        origin.error(format!(
                            "'{}' is not an action: use none, vm-snapshot or storage-snapshot",
                            value.trim()
                        ))
                    })?;
                    if phase.is_job() && action == Action::VmSnapshot {
                        return Err(origin.error(format!(
                            "{phase} is a job phase without a guest, so vm-snapshot cannot apply; \
                             use storage-snapshot with storages, or vm-snapshot in a guest phase"
                        )));
                    }
                    layer.phases.entry(phase).or_default().action = Some(Val {
                        value: action,
                        origin,
                    });
                }
                (phase, Some(setting)) => {
                    let target = match phase {
                        Some(phase) => &mut layer.phases.entry(phase).or_default().settings,
                        None => &mut layer.common,
                    };
                    if !target.set(setting, value, origin.clone())? {
                        let hint = if phase.is_some() {
                            format!("settings: {}", SETTINGS.join(", "))
                        } else {
                            format!(
                                "expected a phase ({}), a setting ({}) or <phase>.<setting>",
                                phase_list(kind),
                                SETTINGS.join(", ")
                            )
                        };
                        return Err(origin.error(format!("unknown key; {hint}")));
                    }
                }
                (None, None) => return Err(origin.error("unknown key")),
            }
        }
        Ok(layer)
    }
}

/// Merge `layers` (most specific first) for one phase and check the result.
fn resolve(kind: HookKind, layers: &[&Layer], phase: Phase) -> Result<PhasePolicy> {
    let action = layers
        .iter()
        .find_map(|l| l.phases.get(&phase).and_then(|e| e.action.as_ref()));
    // The settings in lookup order: per layer, the phase's own, then the section-wide ones.
    let settings: Vec<&Settings> = layers
        .iter()
        .flat_map(|l| {
            l.phases
                .get(&phase)
                .map(|e| &e.settings)
                .into_iter()
                .chain(std::iter::once(&l.common))
        })
        .collect();
    macro_rules! pick {
        ($field:ident) => {
            settings.iter().find_map(|s| s.$field.as_ref())
        };
    }
    let timeout = pick!(timeout).map_or(DEFAULT_TIMEOUT, |v| v.value);
    let lock_timeout = pick!(lock_timeout)
        .map_or(timeout.mul_f64(0.75), |v| v.value)
        .min(timeout);
    let on_error = pick!(on_error);
    let storages = pick!(storages);
    let (action_value, source) = match action {
        Some(a) => (
            a.value,
            format!("section [{}], key '{}'", a.origin.section, a.origin.key),
        ),
        None => (Action::None, String::new()),
    };
    if action_value != Action::None {
        if let Some(on_error) = on_error {
            if on_error.value == OnError::Abort && !phase.honours_failure() {
                return Err(on_error.origin.error(format!(
                    "on-error = abort applies to {phase} ({action_value}), but Proxmox ignores a \
                     failing {} in {phase}; abort is honoured only in: {}. Set \
                     '{phase}.on-error = continue' or give abort per phase",
                    kind.describe(),
                    Phase::honouring(kind)
                )));
            }
        }
        if let (true, Action::StorageSnapshot, None, Some(action)) =
            (phase.is_job(), action_value, storages, action)
        {
            return Err(action.origin.error(format!(
                "{phase} = storage-snapshot needs the storages to snapshot (a job phase has \
                 no guest whose disks could name them): add '{phase}.storages = <id>, ...' \
                 or 'storages = ...'"
            )));
        }
    }
    Ok(PhasePolicy {
        phase,
        action: action_value,
        label: pick!(label).map_or_else(|| kind.default_label().to_string(), |v| v.value.clone()),
        keep: pick!(keep).map(|v| v.value),
        keep_within: pick!(keep_within).map(|v| v.value),
        freeze: pick!(freeze).is_some_and(|v| v.value),
        timeout,
        lock_timeout,
        on_error: on_error.map_or(OnError::Continue, |v| v.value),
        storages: storages.map(|v| v.value.clone()),
        lock: pick!(lock).map(|v| v.value),
        max_pause: pick!(max_pause).map(|v| v.value),
        source,
    })
}

fn phase_list(kind: HookKind) -> String {
    kind.phases()
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

const SCHEDULE_KEYS: &[&str] = &[
    "storages",
    "guests",
    "label",
    "keep",
    "keep-within",
    "freeze",
    "lock-timeout",
    "expiry",
    "lock",
    "max-age",
    "max-pause",
    "period",
];

fn parse_schedule(section: &RawSection, name: &str) -> Result<Schedule> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(section.error(
            None,
            format!(
                "'{name}' is not a schedule name: use letters, digits, '-' and '_' \
                 (it becomes the systemd instance pve-ontap-snapshot@{name}.timer)"
            ),
        ));
    }
    let mut schedule = Schedule {
        name: name.to_string(),
        storages: Vec::new(),
        guests: Vec::new(),
        label: String::new(),
        keep: None,
        keep_within: None,
        freeze: false,
        lock_timeout: DEFAULT_TIMEOUT,
        expiry: None,
        lock: None,
        max_pause: None,
        max_age: None,
        period: DEFAULT_PERIOD,
    };
    let mut label = None;
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in &section.entries {
        if seen.contains(&key.as_str()) {
            return Err(section.error(Some(key), "given twice in this section"));
        }
        seen.push(key);
        let origin = Origin {
            file: section.file.clone(),
            section: section.name.clone(),
            key: key.clone(),
        };
        match key.as_str() {
            "storages" => schedule.storages = parse_storages(value, &origin)?,
            "guests" => schedule.guests = parse_guests(value, &origin)?,
            "label" => label = Some(parse_label(value, &origin)?),
            "keep" => schedule.keep = Some(parse_keep(value, &origin)?),
            "keep-within" => schedule.keep_within = Some(parse_duration(value, &origin)?),
            "freeze" => schedule.freeze = parse_bool(value, &origin)?,
            "lock-timeout" => schedule.lock_timeout = parse_timeout(value, &origin)?,
            "expiry" => schedule.expiry = Some(parse_duration(value, &origin)?),
            "lock" => schedule.lock = Some(parse_duration(value, &origin)?),
            "max-age" => schedule.max_age = Some(parse_duration(value, &origin)?),
            "max-pause" => schedule.max_pause = Some(parse_duration(value, &origin)?),
            "period" => schedule.period = parse_period(value, &origin)?,
            _ => {
                return Err(origin.error(format!(
                    "unknown key; a schedule takes: {}",
                    SCHEDULE_KEYS.join(", ")
                )))
            }
        }
    }
    if schedule.storages.is_empty() && schedule.guests.is_empty() {
        return Err(section.error(
            None,
            "a schedule needs 'storages' (volume snapshots) and/or 'guests' (disk snapshots)",
        ));
    }
    schedule.label = match label {
        Some(label) => label,
        None if names::label_is_valid(name) => name.to_string(),
        None => {
            return Err(section.error(
                None,
                format!(
                    "the schedule name is the default label, but '{name}' is not a valid label \
                     (at most {MAX_LABEL_LEN} characters, starting with a letter or digit, not \
                     containing 'snapshot'); set 'label'"
                ),
            ))
        }
    };
    Ok(schedule)
}

fn parse_section_vmid(section: &RawSection, s: &str) -> Result<u32> {
    parse_vmid(s).ok_or_else(|| {
        section.error(
            None,
            format!("'{s}' is not a guest id (100 to 999999999) in the section name"),
        )
    })
}

fn parse_vmid(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse::<u32>()
        .ok()
        .filter(|v| (100..=999_999_999).contains(v))
}

fn parse_keep(value: &str, origin: &Origin) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err(origin.error(
            "keep must be at least 1 (it counts the snapshot just made); remove the key to keep all",
        )),
        Err(_) => Err(origin.error(format!(
            "'{}' is not a number of snapshots to keep",
            value.trim()
        ))),
    }
}

fn parse_duration(value: &str, origin: &Origin) -> Result<Duration> {
    let v = value.trim();
    let d = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<u64>().ok().map(Duration::from_secs)
    } else {
        retention::parse_duration(v)
    };
    match d {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(origin.error(format!(
            "'{v}' is not a duration: use seconds or e.g. 30d, 12h, 90m, 2w, 45s, 1d12h"
        ))),
    }
}

/// A schedule's period: at least a minute (the timer's `AccuracySec`), at most a week.
fn parse_period(value: &str, origin: &Origin) -> Result<Duration> {
    let d = parse_duration(value, origin)?;
    if d < Duration::from_secs(60) || d > Duration::from_secs(7 * 86400) {
        return Err(origin.error(format!(
            "{}s is not a schedule period: use the interval of the timer's calendar, between 1m \
             and 7d (e.g. 1h for OnCalendar=hourly, 1d for a daily calendar)",
            d.as_secs()
        )));
    }
    Ok(d)
}

fn parse_timeout(value: &str, origin: &Origin) -> Result<Duration> {
    let d = parse_duration(value, origin)?;
    if d > MAX_TIMEOUT {
        return Err(origin.error(format!(
            "{}s is too long: Proxmox holds the guest's config lock while a hook runs; at most {}s",
            d.as_secs(),
            MAX_TIMEOUT.as_secs()
        )));
    }
    Ok(d)
}

/// A label names both volume snapshots (ONTAP `snapmirror_label`, at most 31 characters) and disk
/// snapshot files (`model::names`: no `snapshot` inside, starting with a letter or digit).
fn parse_label(value: &str, origin: &Origin) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.len() > MAX_LABEL_LEN {
        return Err(origin.error(format!(
            "a label has 1 to {MAX_LABEL_LEN} characters (ONTAP's snapmirror_label limit)"
        )));
    }
    if !names::label_is_valid(v) {
        return Err(origin.error(format!(
            "'{v}' is not a label: use letters, digits, '-', '_' and '.', starting with a letter \
             or digit and not containing 'snapshot' (labels become part of disk snapshot file names)"
        )));
    }
    Ok(v.to_string())
}

fn parse_bool(value: &str, origin: &Origin) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        other => Err(origin.error(format!(
            "'{other}' is not a boolean: use yes/no, true/false, on/off or 1/0"
        ))),
    }
}

fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

fn parse_storages(value: &str, origin: &Origin) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for item in list_items(value) {
        if !crate::model::storage::valid_storage_id(item) {
            return Err(origin.error(format!("'{item}' is not a Proxmox storage id")));
        }
        if !out.iter().any(|s| s == item) {
            out.push(item.to_string());
        }
    }
    if out.is_empty() {
        return Err(origin.error("empty list: name at least one storage (comma separated)"));
    }
    Ok(out)
}

fn parse_guests(value: &str, origin: &Origin) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for item in list_items(value) {
        let vmid = parse_vmid(item).ok_or_else(|| {
            origin.error(format!("'{item}' is not a guest id (100 to 999999999)"))
        })?;
        if !out.contains(&vmid) {
            out.push(vmid);
        }
    }
    if out.is_empty() {
        return Err(origin.error("empty list: name at least one guest id (comma separated)"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::policy::{DEFAULT_HOOK_LABEL, DEFAULT_VZDUMP_LABEL};
    use crate::model::retention::Retention;

    fn section(name: &str, entries: &[(&str, &str)]) -> RawSection {
        RawSection {
            file: "/etc/pve-ontap-snapshot/config.ini".into(),
            name: name.into(),
            entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn policy(sections: Vec<RawSection>) -> Policy {
        Policy::from_sections(sections).unwrap()
    }

    fn err(sections: Vec<RawSection>) -> String {
        let e = Policy::from_sections(sections).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        e.to_string()
    }

    #[test]
    fn no_sections_means_no_action_anywhere() {
        let p = policy(vec![]);
        for phase in Phase::HOOKSCRIPT {
            assert_eq!(p.hook(100, phase), None);
        }
        for phase in Phase::VZDUMP {
            assert_eq!(p.vzdump(phase, Some(100)), None);
        }
    }

    #[test]
    fn hook_defaults_and_guest_overrides_merge_per_key() {
        let p = policy(vec![
            section(
                "hook",
                &[
                    ("post-stop", "storage-snapshot"),
                    ("keep", "24"),
                    ("post-stop.label", "stopped"),
                    ("timeout", "120"),
                ],
            ),
            section(
                "hook:100",
                &[
                    ("pre-start", "vm-snapshot"),
                    ("pre-start.on-error", "abort"),
                    ("keep", "3"),
                ],
            ),
            section("hook:101", &[("post-stop", "none")]),
        ]);
        let ps = p.hook(102, Phase::PostStop).unwrap();
        assert_eq!(ps.action, Action::StorageSnapshot);
        assert_eq!(ps.keep, Some(24));
        assert_eq!(ps.label, "stopped");
        assert_eq!(ps.timeout, Duration::from_secs(120));
        assert_eq!(ps.lock_timeout, Duration::from_secs(90));
        assert_eq!(ps.on_error, OnError::Continue);
        assert_eq!(ps.source, "section [hook], key 'post-stop'");
        assert_eq!(p.hook(102, Phase::PreStart), None);

        // Guest 100: own action and keep, inherits the rest.
        let ps = p.hook(100, Phase::PostStop).unwrap();
        assert_eq!((ps.keep, ps.label.as_str()), (Some(3), "stopped"));
        let pre = p.hook(100, Phase::PreStart).unwrap();
        assert_eq!(pre.action, Action::VmSnapshot);
        assert_eq!(pre.on_error, OnError::Abort);
        assert_eq!(pre.label, DEFAULT_HOOK_LABEL);
        assert_eq!(pre.timeout, Duration::from_secs(120));
        assert_eq!(pre.source, "section [hook:100], key 'pre-start'");

        // Guest 101 switched the phase off.
        assert_eq!(p.hook(101, Phase::PostStop), None);
    }

    #[test]
    fn abort_only_where_proxmox_honours_it() {
        let e = err(vec![section(
            "hook",
            &[
                ("post-stop", "storage-snapshot"),
                ("post-stop.on-error", "abort"),
            ],
        )]);
        assert!(
            e.contains("section [hook], key 'post-stop.on-error'"),
            "{e}"
        );
        assert!(
            e.contains("Proxmox ignores a failing hookscript in post-stop"),
            "{e}"
        );
        assert!(e.contains("abort is honoured only in: pre-start"), "{e}");

        // Section-wide abort reaches post-stop too.
        let e = err(vec![section(
            "hook",
            &[
                ("pre-start", "vm-snapshot"),
                ("post-stop", "vm-snapshot"),
                ("on-error", "abort"),
            ],
        )]);
        assert!(e.contains("key 'on-error'"), "{e}");
        assert!(e.contains("applies to post-stop"), "{e}");

        // A guest section's abort is checked against the inherited actions.
        let e = err(vec![
            section("hook", &[("post-start", "vm-snapshot")]),
            section("hook:100", &[("on-error", "abort")]),
        ]);
        assert!(e.contains("section [hook:100], key 'on-error'"), "{e}");

        // Abort without an action in that phase is harmless.
        let p = policy(vec![section(
            "hook",
            &[("pre-start", "vm-snapshot"), ("on-error", "abort")],
        )]);
        assert_eq!(
            p.hook(100, Phase::PreStart).unwrap().on_error,
            OnError::Abort
        );

        // vzdump: job-init, job-start and the guest phases honour it; job-end and log-end do not.
        let p = policy(vec![section(
            "vzdump",
            &[
                ("job-start", "storage-snapshot"),
                ("storages", "ONTAP01"),
                ("backup-start", "vm-snapshot"),
                ("on-error", "abort"),
            ],
        )]);
        assert_eq!(
            p.vzdump(Phase::JobStart, None).unwrap().on_error,
            OnError::Abort
        );
        assert_eq!(
            p.vzdump(Phase::BackupStart, Some(100)).unwrap().on_error,
            OnError::Abort
        );
        let e = err(vec![section(
            "vzdump",
            &[("log-end", "vm-snapshot"), ("log-end.on-error", "abort")],
        )]);
        assert!(e.contains("abort is honoured only in: job-init, job-start, backup-start, pre-stop, pre-restart, post-restart, backup-end"), "{e}");
    }

    #[test]
    fn job_phases_need_storages_and_no_guest() {
        let e = err(vec![section(
            "vzdump",
            &[("job-start", "storage-snapshot")],
        )]);
        assert!(e.contains("key 'job-start'"), "{e}");
        assert!(e.contains("needs the storages"), "{e}");

        let e = err(vec![section("vzdump", &[("job-end", "vm-snapshot")])]);
        assert!(
            e.contains("key 'job-end'") && e.contains("job phase without a guest"),
            "{e}"
        );

        let e = err(vec![section("vzdump:100", &[("job-start", "none")])]);
        assert!(e.contains("section [vzdump:100], key 'job-start'"), "{e}");
        assert!(e.contains("set it in [vzdump]"), "{e}");

        let p = policy(vec![section(
            "vzdump",
            &[
                ("job-start", "storage-snapshot"),
                ("job-start.storages", "ONTAP01, ONTAP02"),
            ],
        )]);
        let js = p.vzdump(Phase::JobStart, None).unwrap();
        assert_eq!(js.storages, Some(vec!["ONTAP01".into(), "ONTAP02".into()]));
        assert_eq!(js.label, DEFAULT_VZDUMP_LABEL);
    }

    #[test]
    fn max_pause_is_a_setting_of_hooks_and_schedules() {
        let p = policy(vec![
            section(
                "vzdump",
                &[
                    ("backup-start", "vm-snapshot"),
                    ("freeze", "yes"),
                    ("max-pause", "5s"),
                ],
            ),
            section(
                "vzdump:101",
                &[
                    ("backup-start", "vm-snapshot"),
                    ("backup-start.max-pause", "20"),
                ],
            ),
            section(
                "schedule:hourly",
                &[
                    ("storages", "ONTAP01"),
                    ("freeze", "yes"),
                    ("max-pause", "1m"),
                ],
            ),
        ]);
        let a = p.vzdump(Phase::BackupStart, Some(100)).unwrap();
        assert_eq!(a.max_pause, Some(Duration::from_secs(5)));
        let b = p.vzdump(Phase::BackupStart, Some(101)).unwrap();
        assert_eq!(b.max_pause, Some(Duration::from_secs(20)));
        let h = p.schedule("hourly").unwrap();
        assert_eq!(h.max_pause, Some(Duration::from_secs(60)));
        let e = err(vec![section("hook", &[("max-pause", "never")])]);
        assert!(e.contains("key 'max-pause'"), "{e}");
        assert!(e.contains("is not a duration"), "{e}");
    }

    #[test]
    fn vzdump_guest_sections_override() {
        let p = policy(vec![
            section(
                "vzdump",
                &[("backup-start", "vm-snapshot"), ("freeze", "yes")],
            ),
            section(
                "vzdump:101",
                &[("backup-start", "storage-snapshot"), ("freeze", "no")],
            ),
        ]);
        let a = p.vzdump(Phase::BackupStart, Some(100)).unwrap();
        assert_eq!((a.action, a.freeze), (Action::VmSnapshot, true));
        let b = p.vzdump(Phase::BackupStart, Some(101)).unwrap();
        assert_eq!((b.action, b.freeze), (Action::StorageSnapshot, false));
        // vzdump's pre-stop is its own phase, not the hookscript's.
        assert_eq!(Phase::vzdump("pre-stop"), Some(Phase::BackupPreStop));
        assert_eq!(Phase::hookscript("pre-stop"), Some(Phase::PreStop));
        assert_eq!(Phase::hookscript("backup-start"), None);
    }

    #[test]
    fn every_error_names_file_section_and_key() {
        let cases: Vec<(RawSection, &str, &str)> = vec![
            (
                section("hook", &[("post-stop", "snapshot")]),
                "key 'post-stop'",
                "not an action",
            ),
            (
                section("hook", &[("post-stopp", "vm-snapshot")]),
                "key 'post-stopp'",
                "unknown key",
            ),
            (
                section("hook", &[("post-stopp.keep", "3")]),
                "key 'post-stopp.keep'",
                "not a hook phase",
            ),
            (
                section("hook", &[("post-stop.kep", "3")]),
                "key 'post-stop.kep'",
                "unknown key",
            ),
            (
                section("hook", &[("keep", "0")]),
                "key 'keep'",
                "at least 1",
            ),
            (
                section("hook", &[("keep", "many")]),
                "key 'keep'",
                "not a number",
            ),
            (
                section("hook", &[("freeze", "perhaps")]),
                "key 'freeze'",
                "not a boolean",
            ),
            (
                section("hook", &[("timeout", "0")]),
                "key 'timeout'",
                "not a duration",
            ),
            (
                section("hook", &[("timeout", "7200")]),
                "key 'timeout'",
                "too long",
            ),
            (
                section("hook", &[("on-error", "stop")]),
                "key 'on-error'",
                "continue or abort",
            ),
            (
                section("hook", &[("label", "has space")]),
                "key 'label'",
                "not a label",
            ),
            (
                section(
                    "hook",
                    &[("label", "a-label-that-is-far-too-long-for-ontap")],
                ),
                "key 'label'",
                "1 to 31",
            ),
            (
                section("hook", &[("storages", "ONTAP01, -bad")]),
                "key 'storages'",
                "not a Proxmox storage id",
            ),
            (
                section("hook", &[("storages", " , ")]),
                "key 'storages'",
                "empty list",
            ),
            (
                section("hook", &[("keep", "1"), ("keep", "2")]),
                "key 'keep'",
                "given twice",
            ),
            (
                section("schedule:x", &[("guests", "100, 42")]),
                "key 'guests'",
                "not a guest id",
            ),
            (
                section("schedule:x", &[("storages", "ONTAP01"), ("when", "daily")]),
                "key 'when'",
                "a schedule takes",
            ),
        ];
        for (s, key, what) in cases {
            let name = s.name.clone();
            let e = err(vec![s]);
            assert!(
                e.starts_with(&format!(
                    "config '/etc/pve-ontap-snapshot/config.ini', section [{name}], {key}:"
                )),
                "{e}"
            );
            assert!(e.contains(what), "{e} should say {what}");
        }
    }

    #[test]
    fn bad_section_names() {
        let e = err(vec![section("hook:abc", &[])]);
        assert!(
            e.contains("section [hook:abc]: 'abc' is not a guest id"),
            "{e}"
        );
        let e = err(vec![section("hooks:100", &[])]);
        assert!(
            e.contains("section [hooks:100]: not a policy section"),
            "{e}"
        );
        let e = err(vec![section("schedule:night ly", &[("storages", "A1")])]);
        assert!(e.contains("is not a schedule name"), "{e}");
        let e = err(vec![section("schedule:snapshots", &[("guests", "100")])]);
        assert!(
            e.contains("section [schedule:snapshots]: the schedule name is the default label"),
            "{e}"
        );
        let e = err(vec![section("schedule:empty", &[("label", "x")])]);
        assert!(
            e.contains("section [schedule:empty]: a schedule needs"),
            "{e}"
        );
    }

    #[test]
    fn schedules() {
        let p = policy(vec![
            section(
                "schedule:hourly",
                &[
                    ("storages", "ONTAP01 ONTAP02,ONTAP01"),
                    ("keep", "24"),
                    ("freeze", "yes"),
                    ("lock-timeout", "30"),
                ],
            ),
            section(
                "schedule:vms",
                &[("guests", "100,101"), ("label", "nightly")],
            ),
        ]);
        let h = p.schedule("hourly").unwrap();
        assert_eq!(h.storages, vec!["ONTAP01", "ONTAP02"]);
        assert!(h.guests.is_empty());
        assert_eq!(h.label, "hourly");
        assert_eq!(
            h.retention(),
            Some(Retention {
                keep_last: Some(24),
                keep_within: None
            })
        );
        assert!(h.freeze);
        assert_eq!(h.lock_timeout, Duration::from_secs(30));
        let v = p.schedule("vms").unwrap();
        assert_eq!(
            (v.guests.clone(), v.label.as_str()),
            (vec![100, 101], "nightly")
        );
        assert_eq!(v.retention(), None);
        assert!(p.schedule("daily").is_none());
        assert_eq!(p.schedules().count(), 2);
    }

    #[test]
    fn lock_timeout_never_exceeds_timeout() {
        let p = policy(vec![section(
            "hook",
            &[
                ("post-stop", "storage-snapshot"),
                ("timeout", "10"),
                ("lock-timeout", "50"),
            ],
        )]);
        let ps = p.hook(100, Phase::PostStop).unwrap();
        assert_eq!(ps.lock_timeout, Duration::from_secs(10));
    }

    #[test]
    fn phase_facts() {
        assert!(Phase::PreStart.honours_failure());
        assert!(!Phase::PostStop.honours_failure());
        assert!(Phase::PostStop.guest_off() && Phase::PreStart.guest_off());
        assert!(!Phase::PostStart.guest_off() && !Phase::BackupStart.guest_off());
        assert!(Phase::JobInit.is_job() && !Phase::BackupEnd.is_job());
        assert_eq!(Phase::BackupPreStop.kind(), HookKind::Vzdump);
        for p in Phase::VZDUMP {
            assert_eq!(Phase::vzdump(p.name()), Some(p));
        }
    }
}
