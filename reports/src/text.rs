//! Strings from a trace before they reach the page: control characters made visible and
//! huge values cut, so a 100 KiB argument or a stray NUL cannot break the layout. (HTML
//! escaping itself is the template engine's job: maud escapes every interpolation.)

/// Longest string shown whole in a cell or line, in characters.
pub const MAX_SHOWN: usize = 600;

/// `s` with control characters escaped (`\u{1b}`) and cut after `max` characters, saying
/// how many were left out.
pub fn clip(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_add(32)));
    let mut chars = s.chars();
    for (n, c) in chars.by_ref().enumerate() {
        if n >= max {
            let rest = 1 + chars.count();
            out.push_str(&format!("\u{2026} [{rest} more characters]"));
            return out;
        }
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that reorder or hide text (bidi overrides, zero-width): shown escaped so a
/// filename cannot disguise itself.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A shown string of at most [`MAX_SHOWN`] characters.
pub fn shown(s: &str) -> String {
    clip(s, MAX_SHOWN)
}

/// Names of the ATT&CK techniques Rewind's built-in rules use (others show their id).
pub fn attack_name(id: &str) -> Option<&'static str> {
    Some(match id {
        "T1003.008" => "OS Credential Dumping: /etc/passwd and /etc/shadow",
        "T1005" => "Data from Local System",
        "T1014" => "Rootkit",
        "T1021" => "Remote Services",
        "T1027.011" => "Obfuscated Files or Information: Fileless Storage",
        "T1033" => "System Owner/User Discovery",
        "T1041" => "Exfiltration Over C2 Channel",
        "T1048.003" => "Exfiltration Over Unencrypted Non-C2 Protocol",
        "T1053.003" => "Scheduled Task/Job: Cron",
        "T1055.008" => "Process Injection: Ptrace System Calls",
        "T1059.004" => "Command and Scripting Interpreter: Unix Shell",
        "T1068" => "Exploitation for Privilege Escalation",
        "T1070.002" => "Indicator Removal: Clear Linux or Mac System Logs",
        "T1070.003" => "Indicator Removal: Clear Command History",
        "T1070.004" => "Indicator Removal: File Deletion",
        "T1071.004" => "Application Layer Protocol: DNS",
        "T1082" => "System Information Discovery",
        "T1087.001" => "Account Discovery: Local Account",
        "T1095" => "Non-Application Layer Protocol",
        "T1098.004" => "Account Manipulation: SSH Authorized Keys",
        "T1105" => "Ingress Tool Transfer",
        "T1190" => "Exploit Public-Facing Application",
        "T1204.002" => "User Execution: Malicious File",
        "T1222.002" => "File and Directory Permissions Modification: Linux",
        "T1496" => "Resource Hijacking",
        "T1543.002" => "Create or Modify System Process: Systemd Service",
        "T1546.004" => "Event Triggered Execution: Unix Shell Configuration Modification",
        "T1547.006" => "Boot or Logon Autostart Execution: Kernel Modules and Extensions",
        "T1548" => "Abuse Elevation Control Mechanism",
        "T1548.001" => "Abuse Elevation Control Mechanism: Setuid and Setgid",
        "T1552.001" => "Unsecured Credentials: Credentials In Files",
        "T1552.004" => "Unsecured Credentials: Private Keys",
        "T1552.007" => "Unsecured Credentials: Container API",
        "T1571" => "Non-Standard Port",
        "T1573" => "Encrypted Channel",
        "T1610" => "Deploy Container",
        "T1611" => "Escape to Host",
        "T1620" => "Reflective Code Loading",
        _ => return None,
    })
}

/// The MITRE page of a technique id (`T1059.004` -> `.../T1059/004/`), when the id has
/// the expected shape; `None` for anything else so no odd string becomes a link.
pub fn attack_url(id: &str) -> Option<String> {
    let (base, sub) = match id.split_once('.') {
        Some((b, s)) => (b, Some(s)),
        None => (id, None),
    };
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(base.len() == 5 && base.starts_with('T') && ok(&base[1..], 4)) {
        return None;
    }
    match sub {
        Some(s) if ok(s, 3) => Some(format!("https://attack.mitre.org/techniques/{base}/{s}/")),
        Some(_) => None,
        None => Some(format!("https://attack.mitre.org/techniques/{base}/")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_escapes_controls_and_cuts() {
        assert_eq!(clip("a\u{1b}[31mb\0", 100), "a\\u{1b}[31mb\\u{0}");
        let long = "x".repeat(1000);
        let c = clip(&long, 10);
        assert!(c.starts_with("xxxxxxxxxx\u{2026} [990 more"), "{c}");
        assert_eq!(clip("ab\u{202e}cd", 10), "ab\\u{202e}cd");
    }

    #[test]
    fn attack_urls_only_for_ids() {
        assert_eq!(
            attack_url("T1059.004").as_deref(),
            Some("https://attack.mitre.org/techniques/T1059/004/")
        );
        assert_eq!(
            attack_url("T1190").as_deref(),
            Some("https://attack.mitre.org/techniques/T1190/")
        );
        assert_eq!(attack_url("javascript:alert(1)"), None);
        assert_eq!(attack_url("T1059.0x4"), None);
    }
}
