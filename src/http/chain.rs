//! Error chains of transport failures: walking an error's sources (also inside `io::Error`
//! wrappers) to classify a failure and to name its cause without printing any secret.

/// Walks an error and its sources, looking inside `io::Error` wrappers too (their `source()`
/// skips the wrapped error itself).
pub(crate) fn error_chain<'a>(
    head: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut todo = vec![head];
    while let Some(e) = todo.pop() {
        if out.len() > 16 {
            break;
        }
        out.push(e);
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            todo.push(inner);
        } else if let Some(next) = e.source() {
            todo.push(next);
        }
    }
    out
}

/// The innermost `io::Error` in the chain (ureq wraps io errors in its own error in io errors).
pub(super) fn find_io_error<'a>(
    head: &'a (dyn std::error::Error + 'static),
) -> Option<&'a std::io::Error> {
    error_chain(head)
        .into_iter()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .last()
}
