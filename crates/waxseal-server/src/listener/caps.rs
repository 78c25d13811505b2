//! Caps on open connections, in total and per client address, counted with a guard that each connection's task
//! holds: the slot is freed when the task ends, however it ends.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::Gauge;

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// [`crate::Config::max_connections`] connections were open.
    Total,
    /// [`crate::Config::max_connections_per_address`] connections from its address were open.
    PerAddress,
}

/// The address connections are counted under: an IPv4 address, or an IPv6 /64 — one subscriber's network, all
/// of which a single client can use, so counting per IPv6 address would cap nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct AddressKey(IpAddr);

impl AddressKey {
    fn of(ip: IpAddr) -> AddressKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddressKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                AddressKey(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<AddressKey, usize>,
}

/// The open connections, against the caps.
#[derive(Debug)]
pub(crate) struct ConnectionCaps {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
    gauge: Gauge,
}

/// One admitted connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    caps: Arc<ConnectionCaps>,
    address: AddressKey,
}

impl ConnectionCaps {
    /// Caps of `max_total` and `max_per_address`; `gauge` follows the number of open connections.
    pub(crate) fn new(
        max_total: usize,
        max_per_address: usize,
        gauge: Gauge,
    ) -> Arc<ConnectionCaps> {
        Arc::new(ConnectionCaps {
            max_total,
            max_per_address,
            open: Mutex::new(Open::default()),
            gauge,
        })
    }

    /// A slot for a connection from `ip`, or why there is none.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionGuard, Refused> {
        let address = AddressKey::of(ip);
        // The lock is held for a few integer operations; a poisoned one (a panic elsewhere while holding it,
        // which nothing here can do) still holds consistent counts.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.max_total {
            return Err(Refused::Total);
        }
        let from_address = open.by_address.entry(address).or_insert(0);
        if *from_address >= self.max_per_address {
            return Err(Refused::PerAddress);
        }
        *from_address += 1;
        open.total += 1;
        self.gauge.increment(1.0);
        Ok(ConnectionGuard {
            caps: self.clone(),
            address,
        })
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self
            .caps
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
        self.caps.gauge.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(total: usize, per: usize) -> Arc<ConnectionCaps> {
        ConnectionCaps::new(total, per, Gauge::noop())
    }

    #[test]
    fn a_freed_slot_can_be_taken_again_and_the_map_does_not_grow() {
        let caps = caps(2, 1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = caps.admit(a).unwrap();
        assert_eq!(caps.admit(a).unwrap_err(), Refused::PerAddress);
        drop(first);
        let again = caps.admit(a).unwrap();
        drop(again);
        let open = caps.open.lock().unwrap();
        assert_eq!((open.total, open.by_address.len()), (0, 0));
    }

    #[test]
    fn the_total_cap_holds_across_addresses() {
        let caps = caps(2, 2);
        let _a = caps.admit("192.0.2.1".parse().unwrap()).unwrap();
        let _b = caps.admit("192.0.2.2".parse().unwrap()).unwrap();
        assert_eq!(
            caps.admit("192.0.2.3".parse().unwrap()).unwrap_err(),
            Refused::Total
        );
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_count_and_mapped_ipv4_counts_as_ipv4() {
        let caps = caps(10, 1);
        let _a = caps.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert_eq!(
            caps.admit("2001:db8:1:2:ffff::9".parse().unwrap())
                .unwrap_err(),
            Refused::PerAddress
        );
        let _other_64 = caps.admit("2001:db8:1:3::1".parse().unwrap()).unwrap();
        let _v4 = caps.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(
            caps.admit("::ffff:192.0.2.1".parse().unwrap()).unwrap_err(),
            Refused::PerAddress
        );
    }
}
