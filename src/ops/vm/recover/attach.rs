//! `vm attach` / `vm detach`: one disk of a snapshot cloned into a helper guest's directory and
//! added to it as an unused disk (file-level recovery without touching the guest it came from),
//! and its removal again.

use crate::error::{Error, Result, ResultExt};
use crate::ops::disks::{is_unused_key, PropertyString, VolumeId};
use crate::ops::vm::list;
use crate::ops::vm::lookup;
use crate::ops::vm::recover::clone::{
    extension, make_files, new_file_name, remove_files, sources, taken_names, Copy,
};
use crate::ops::vm::recover::newconfig::free_unused_key;
use crate::ops::vm::recover::{lock_all, RecoveredDisk, Recovery};
use crate::ops::vm::Ctx;
use crate::ops::Backends;
use crate::sys::paths::Paths;
use crate::sys::signals;

pub(crate) fn attach(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    disk: &str,
    helper: u32,
    paths: &Paths,
    ctx: &Ctx<'_>,
) -> Result<Recovery> {
    if helper == vmid {
        return Err(Error::Usage(format!(
            "--to {helper} is the guest itself; attach to another (helper) guest, or use 'vm \
             restore --disk {disk}'"
        )));
    }
    // ---- Lookups. ----
    let pve = b.pve()?;
    let scan = list::scan(b, vmid, ctx)?;
    let target = lookup::load(pve.as_ref(), helper)?;
    let src = sources(&scan, name)?;
    let location = scan
        .locations
        .iter()
        .find(|l| l.key == disk)
        .ok_or_else(|| Error::NotFound {
            what: format!("disk '{disk}' of guest {vmid} on an ONTAP-backed storage"),
        })?;
    let (file, source, store) = src
        .files
        .iter()
        .find(|(f, _, _)| {
            f.storage == location.storage && f.dir == location.dir && f.name == location.file
        })
        .ok_or_else(|| {
            Error::Refused(format!(
                "snapshot '{name}' has no file of disk {disk} ({}) of guest {vmid}",
                location.volid
            ))
        })?;
    let key = free_unused_key(&target.config)
        .ok_or_else(|| Error::Refused(format!("guest {helper} has no free unusedN key left")))?;
    let (mut taken, dirs) = taken_names(&[*store], helper)?;
    let new_file = new_file_name(helper, extension(&file.name), &mut taken);
    let copy = Copy {
        key: key.clone(),
        store,
        storage: location.storage.clone(),
        source: source.clone(),
        destination: format!("{}/{new_file}", store.images_dir(helper)),
        volid: format!("{}:{helper}/{new_file}", location.storage),
        size: file.size,
    };

    // ---- Changes. ----
    let _locks = lock_all(
        paths,
        std::slice::from_ref(&copy.storage),
        &format!("vm attach {vmid} -> {helper}"),
    )?;
    let _shield = signals::shield()?;
    let what =
        format!("attach of disk {disk} of guest {vmid} from snapshot '{name}' to guest {helper}");
    let copies = [copy];
    make_files(&copies, &dirs, &what)?;
    let copy = &copies[0];
    if let Err(e) = pve.set_config(&target.guest, &[(key.clone(), copy.volid.clone())], &[]) {
        let left = remove_files(&[copy]);
        return Err(Error::Step {
            step: format!(
                "{what}: add {key} = {} to guest {helper} (the cloned file was {})",
                copy.volid,
                if left.is_empty() {
                    "removed".to_string()
                } else {
                    format!("kept: {}", left.join(", "))
                }
            ),
            cause: Box::new(e),
        });
    }
    Ok(Recovery {
        vmid,
        snapshot: name.to_string(),
        kind: src.kind,
        storages: vec![copy.storage.clone()],
        created: src.created.clone(),
        action: "attached".into(),
        disks: vec![RecoveredDisk {
            key: key.clone(),
            volume: copy.volid.clone(),
            source: copy.source.clone(),
            size_before: None,
            size: copy.size,
        }],
        kept: None,
        new_vmid: Some(helper),
        config_source: None,
        notes: vec![format!(
            "guest {helper} has it as {key}; add it as a disk with 'qm set {helper} --scsiN {}' \
             (or in the GUI), and remove it with 'vm detach --to {helper} --disk {key}'",
            copy.volid
        )],
    })
}

pub(crate) fn detach(
    b: &dyn Backends,
    helper: u32,
    key: &str,
    paths: &Paths,
    ctx: &Ctx<'_>,
) -> Result<Recovery> {
    if !is_unused_key(key) {
        return Err(Error::Usage(format!(
            "--disk {key}: only an unused disk (unusedN) that 'vm attach' added can be detached"
        )));
    }
    let pve = b.pve()?;
    let target = lookup::load(pve.as_ref(), helper)?;
    let value = target.config.get(key).ok_or_else(|| Error::NotFound {
        what: format!("{key} in the config of guest {helper}"),
    })?;
    let file = PropertyString::parse(value).file.unwrap_or_default();
    let volume = VolumeId::parse(&file).ok_or_else(|| {
        Error::Refused(format!(
            "{key} of guest {helper} is '{value}', not a volume id"
        ))
    })?;
    let image = volume
        .image_file()
        .filter(|i| i.owner == helper)
        .ok_or_else(|| {
            Error::Refused(format!(
                "{key} of guest {helper} is {volume}, which is not in the guest's own directory; \
                 only a disk 'vm attach' made there is deleted"
            ))
        })?;
    let store = (ctx.resolve)(b, &volume.storage)
        .step_with(|| format!("resolve storage '{}' to its ONTAP volume", volume.storage))?;
    let path = format!("{}/{}", store.images_dir(helper), image.file);
    if let Some((other, _)) = target
        .config
        .iter()
        .filter(|(k, _)| k.as_str() != key)
        .find(|(_, v)| PropertyString::parse(v).file.as_deref() == Some(file.as_str()))
    {
        return Err(Error::Refused(format!(
            "{volume} is also used as {other} of guest {helper}; nothing was changed"
        )));
    }

    let _locks = lock_all(
        paths,
        std::slice::from_ref(&volume.storage),
        &format!("vm detach {helper}"),
    )?;
    let _shield = signals::shield()?;
    pve.set_config(&target.guest, &[], &[key.to_string()])
        .step_with(|| format!("remove {key} from guest {helper}"))?;
    store
        .ontap
        .delete_file(&store.volume.uuid, &path)
        .step_with(|| {
            format!(
                "delete '{path}' on volume '{}' ({key} was already removed from guest {helper})",
                store.volume.name
            )
        })?;
    Ok(Recovery {
        vmid: helper,
        snapshot: String::new(),
        kind: "disk",
        storages: vec![volume.storage.clone()],
        created: String::new(),
        action: "detached".into(),
        disks: vec![RecoveredDisk {
            key: key.to_string(),
            volume: volume.to_string(),
            source: path,
            size_before: None,
            size: None,
        }],
        kept: None,
        new_vmid: Some(helper),
        config_source: None,
        notes: Vec::new(),
    })
}
