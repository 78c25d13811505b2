//! The open-file limit: every connection is a file descriptor, so the soft limit (often 1,024) is raised to the
//! hard one at start, and a connection cap that cannot fit under the result is warned about — over it, accepting
//! fails with "Too many open files" instead of closing the extra connections cleanly.

/// File descriptors the server needs besides client connections: the listening socket, the database pool
/// (PostgreSQL connections or SQLite files), Redis, log files, the runtime's own.
const RESERVED_DESCRIPTORS: u64 = 128;

/// Raises the soft open-file limit to the hard one, logs the result, and warns when `max_connections` does not
/// fit under it. Never fails: a server whose limit cannot be raised still serves, capped by what it has.
pub(crate) fn raise_and_check(max_connections: usize) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit; serving with the current one");
            match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                Ok((soft, _)) => soft,
                Err(_) => return,
            }
        }
    };
    tracing::info!(open_file_limit = limit, max_connections, "open-file limit");
    let needed = (max_connections as u64).saturating_add(RESERVED_DESCRIPTORS);
    if needed > limit {
        tracing::warn!(
            open_file_limit = limit,
            max_connections,
            "the connection cap does not fit under the open-file limit: past about {} connections, new ones \
             fail with \"Too many open files\" instead of being closed at the cap; lower --max-connections or \
             raise the hard limit (LimitNOFILE= in a systemd unit, ulimit -Hn)",
            limit.saturating_sub(RESERVED_DESCRIPTORS)
        );
    }
}
