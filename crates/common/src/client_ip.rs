//! The client's IP address, from proof rather than from what the client wrote.
//!
//! Without a trusted proxy the address is the TCP peer. Behind one (Application Gateway, an
//! ingress) every request comes from the proxy, so the peer says nothing about the client; the
//! proxy *appends* the address it saw to `X-Forwarded-For`. Entries left of it were written by
//! whoever sent the request and prove nothing, so only the **rightmost** entry is used
//! (docs/security.md, issue 17 finding 5). That entry may be a bare address or `ip:port`
//! (`203.0.113.7`, `203.0.113.7:5555`, `2001:db8::1`, `[2001:db8::1]:5555`).
//!
//! `TRUST_X_FORWARDED_FOR=true` turns this on; leave it off unless exactly one trusted proxy
//! sits in front of the service and overwrites or appends the header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::request::Parts;

/// `X-Forwarded-For`.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Parses one `X-Forwarded-For` entry: a bare IPv4/IPv6 address, `ipv4:port` or `[ipv6]:port`.
pub fn parse_entry(raw: &str) -> Option<IpAddr> {
    let s = raw.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    // `[2001:db8::1]` without a port.
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<IpAddr>().ok())
}

/// The rightmost `X-Forwarded-For` entry (over every header line), if it parses.
pub fn rightmost_forwarded(headers: &HeaderMap) -> Option<IpAddr> {
    let last_line = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .rfind(|v| !v.trim().is_empty())?;
    let last = last_line.rsplit(',').next()?;
    parse_entry(last)
}

/// The client address: the rightmost `X-Forwarded-For` entry when `trust_forwarded_for` and it
/// parses, else the TCP peer (`0.0.0.0` when the server recorded none, e.g. in-process tests).
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> IpAddr {
    if trust_forwarded_for && let Some(ip) = rightmost_forwarded(headers) {
        return ip;
    }
    peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip())
}

/// [`client_ip`] of request parts (the peer from axum's `ConnectInfo`).
pub fn from_parts(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    client_ip(&parts.headers, peer, trust_forwarded_for)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(values: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append(X_FORWARDED_FOR, HeaderValue::from_str(v).expect("header"));
        }
        m
    }

    #[test]
    fn entries_parse_bare_and_with_port() {
        assert_eq!(parse_entry(" 203.0.113.7 "), Some([203, 0, 113, 7].into()));
        assert_eq!(
            parse_entry("203.0.113.7:5555"),
            Some([203, 0, 113, 7].into())
        );
        let v6: IpAddr = "::1".parse().expect("ip");
        assert_eq!(parse_entry("::1"), Some(v6));
        assert_eq!(parse_entry("[::1]:5555"), Some(v6));
        assert_eq!(parse_entry("[::1]"), Some(v6));
        assert_eq!(parse_entry("unknown"), None);
        assert_eq!(parse_entry(""), None);
    }

    #[test]
    fn the_rightmost_entry_wins_over_what_the_client_wrote() {
        let peer: SocketAddr = "10.0.0.9:40000".parse().expect("addr");
        let spoofed = h(&["1.2.3.4, 198.51.100.20:6000"]);
        assert_eq!(
            client_ip(&spoofed, Some(peer), true),
            IpAddr::from([198, 51, 100, 20])
        );
        // Two header lines: the proxy's is the last one.
        let two = h(&["1.2.3.4", "[2001:db8::5]:443"]);
        assert_eq!(
            client_ip(&two, Some(peer), true),
            "2001:db8::5".parse::<IpAddr>().expect("ip")
        );
        // Not trusted: the peer, whatever the header says.
        assert_eq!(client_ip(&spoofed, Some(peer), false), peer.ip());
        // Unparseable rightmost entry: the peer, never an entry further left.
        assert_eq!(
            client_ip(&h(&["1.2.3.4, garbage"]), Some(peer), true),
            peer.ip()
        );
        assert_eq!(
            client_ip(&HeaderMap::new(), None, true),
            IpAddr::from([0, 0, 0, 0])
        );
    }
}
