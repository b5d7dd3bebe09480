//! The configuration: the INI file (both layouts of the original) parsed strictly into one
//! validated `Config`: locate → ini → values/endpoint/policy → build. Only re-exports live here.

mod build;
mod endpoint;
mod ini;
mod load;
mod locate;
mod policy;
mod settings;
mod values;

pub use endpoint::parse_fingerprint;
pub use ini::RawSection;
pub use locate::Caller;
pub use policy::Policy;
pub use settings::Config;

#[cfg(test)]
mod tests;
