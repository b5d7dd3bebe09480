//! Rendering command results as text tables or JSON on stdout.
