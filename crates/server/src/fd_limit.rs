//! The open-file limit, which bounds how many connections can exist at all.
//!
//! Every connection is a file descriptor. The soft limit is raised to the
//! hard one at startup (the soft default, often 1024, is far below what a
//! chat server needs), and the cap on unauthenticated connections is kept
//! to half of what is left, so idle attackers can never take the
//! descriptors that authenticated sessions, the database and `accept` need.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit where allowed and
/// returns the limit now in force (None where it cannot be read).
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    // rlim_t is u64 on the usual targets but not on every one.
    #[allow(clippy::useless_conversion)]
    Some(u64::try_from(lim.rlim_cur).unwrap_or(u64::MAX))
}

/// Elsewhere the limit is not known.
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Descriptors kept back for the database, logs, the runtime and `accept`.
const RESERVED: u64 = 32;

/// The total cap on unauthenticated connections that fits `limit`: at most
/// half of the descriptors left after the reserve (and at least 1).
pub fn fit_total_cap(wanted: usize, limit: Option<u64>) -> usize {
    match limit {
        None => wanted,
        Some(limit) => {
            let fits = (limit.saturating_sub(RESERVED) / 2).max(1);
            wanted.min(usize::try_from(fits).unwrap_or(usize::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_fits_the_limit() {
        assert_eq!(fit_total_cap(1024, Some(1024)), 496);
        assert_eq!(fit_total_cap(100, Some(1_048_576)), 100);
        assert_eq!(fit_total_cap(100, Some(10)), 1);
        assert_eq!(fit_total_cap(100, None), 100);
    }
}
