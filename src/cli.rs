//! Command-line definitions (clap) and the rewriting of the original tool's single-dash options.
