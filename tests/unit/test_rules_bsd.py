"""FreeBSD checks judged on recorded inputs (rc.conf and its defaults, `sysctl -n` values, `sshd -T`, `mount -p`,
kldstat and pfctl output, master.passwd, login.conf, audit_control, file modes): every check of the built-in FreeBSD
templates gives the expected verdict on a hardened host's recording and on a misconfigured one."""

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from content import load_builtin_content
from domain.evaluation import CommandNotFound, CommandResult, FileStat, evaluate

CONTENT = load_builtin_content()
BSD_TEMPLATES = ("cis-bsd-l2", "stig-bsd")  # cis-bsd-l2 holds every cis-bsd-l1 check

ROOT_WHEEL = ("root", "wheel")


@dataclass
class Recording:
    """What a FreeBSD host answered: file contents, modes and owners, kernel parameters and command output."""

    files: dict[str, str]
    modes: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # path -> (mode, owner, group)
    dirs: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    sshd_t: str = ""
    mounts: str = ""
    kldstat: str = ""
    pf_info: str = ""
    packages: frozenset[str] = frozenset()
    running: frozenset[str] = frozenset()


class RecordedBsdHost:
    """A HostProbe that answers from a Recording, the way a running FreeBSD 14 host would."""

    os_type = "bsd"
    running = True
    PROGRAMS = {"sysctl", "sshd", "mount", "pkg", "service", "kldstat", "pfctl"}

    def __init__(self, recording: Recording) -> None:
        self.rec = recording
        self.ran: list[tuple[str, ...]] = []

    def read_file(self, path: str) -> str | None:
        return self.rec.files.get(path)

    def _is_dir(self, path: str) -> bool:
        if path in self.rec.dirs or path == "/":
            return True
        prefix = path.rstrip("/") + "/"
        return any(known.startswith(prefix) for known in (*self.rec.files, *self.rec.modes, *self.rec.dirs))

    def stat(self, path: str) -> FileStat | None:
        if path in self.rec.dirs:
            mode, owner, group = self.rec.dirs[path]
            return FileStat(mode, owner, group, True)
        if path in self.rec.modes:
            mode, owner, group = self.rec.modes[path]
            return FileStat(mode, owner, group, False)
        if path in self.rec.files:
            return FileStat(0o644, *ROOT_WHEEL, False)
        if self._is_dir(path):
            return FileStat(0o755, *ROOT_WHEEL, True)
        return None

    def list_dir(self, path: str) -> list[str] | None:
        if not self._is_dir(path):
            return None
        prefix = "/" if path == "/" else path.rstrip("/") + "/"
        known = (*self.rec.files, *self.rec.modes, *self.rec.dirs)
        return sorted({item[len(prefix):].split("/", 1)[0] for item in known if item.startswith(prefix)})

    def read_link(self, path: str) -> str | None:
        return None

    def which(self, name: str) -> bool:
        return name in self.PROGRAMS

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.ran.append(tuple(argv))
        program, args = posixpath.basename(argv[0]), list(argv[1:])
        if program == "sysctl" and args[:1] == ["-n"]:
            value = self.rec.sysctls.get(args[1])
            if value is None:
                return CommandResult(1, "", f"sysctl: unknown oid '{args[1]}'\n")
            return CommandResult(0, value + "\n", "")
        if program == "sshd" and args == ["-T"]:
            return CommandResult(0, self.rec.sshd_t, "")
        if program == "mount" and args == ["-p"]:
            return CommandResult(0, self.rec.mounts, "")
        if program == "kldstat" and not args:
            return CommandResult(0, self.rec.kldstat, "")
        if program == "pfctl" and args == ["-s", "info"]:
            return CommandResult(0 if self.rec.pf_info else 1, self.rec.pf_info, "" if self.rec.pf_info else
                                 "pfctl: /dev/pf: No such file or directory\n")
        if program == "pkg" and args[:2] == ["info", "-e"]:
            return CommandResult(0 if args[2] in self.rec.packages else 1, "", "")
        if program == "service" and args[1:] == ["onestatus"]:
            return CommandResult(0 if args[0] in self.rec.running else 1, "", "")
        raise CommandNotFound(argv[0])

    def read_registry(self, hive: str, key: str, value_name: str) -> str | int | None:
        return None

    def security_policy(self) -> dict[str, dict[str, str]]:
        return {}


# The defaults every FreeBSD 14 host has in /etc/defaults/rc.conf (an excerpt: the variables the checks read).
DEFAULTS_RC_CONF = """\
syslogd_enable="YES"
syslogd_flags="-s"
cron_enable="YES"
inetd_enable="NO"
rpcbind_enable="NO"
nfs_server_enable="NO"
nis_client_enable="NO"
nis_server_enable="NO"
rwhod_enable="NO"
lpd_enable="NO"
ftpd_enable="NO"
bsnmpd_enable="NO"
ntpd_enable="NO"
sendmail_enable="NO"
clear_tmp_enable="NO"
dumpdev="AUTO"
savecore_enable="YES"
update_motd="YES"
firewall_enable="NO"
firewall_type="UNKNOWN"
firewall_logging="NO"
pf_enable="NO"
pf_rules="/etc/pf.conf"
pflog_enable="NO"
auditd_enable="NO"
kern_securelevel_enable="NO"
kern_securelevel="-1"
"""

HARDENED_SSHD_T = """\
port 22
loglevel VERBOSE
x11forwarding no
maxauthtries 4
ignorerhosts yes
hostbasedauthentication no
permitrootlogin no
permitemptypasswords no
permituserenvironment no
ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
macs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512,hmac-sha2-256
kexalgorithms curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group16-sha512
clientaliveinterval 300
clientalivecountmax 3
logingracetime 60
allowgroups wheel sshusers
banner /etc/ssh/banner
usepam yes
allowtcpforwarding no
maxstartups 10:30:60
maxsessions 10
permittunnel no
"""

WEAK_SSHD_T = """\
port 22
loglevel QUIET
x11forwarding yes
maxauthtries 6
ignorerhosts no
hostbasedauthentication yes
permitrootlogin yes
permitemptypasswords yes
permituserenvironment yes
ciphers aes128-cbc,3des-cbc,aes256-ctr
macs hmac-md5,hmac-sha1,hmac-sha2-256
kexalgorithms diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,curve25519-sha256
clientaliveinterval 0
clientalivecountmax 10
logingracetime 120
banner none
usepam no
allowtcpforwarding yes
maxstartups 100:30:200
maxsessions 20
permittunnel yes
"""

HARDENED_SYSCTLS = {
    "kern.sugid_coredump": "0", "kern.elf64.nxstack": "1", "kern.elf64.aslr.enable": "1",
    "kern.elf64.aslr.pie_enable": "1", "kern.elf32.aslr.enable": "1", "kern.randompid": "1",
    "kern.securelevel": "1", "net.inet.ip.forwarding": "0", "net.inet.ip.redirect": "0",
    "net.inet.ip.accept_sourceroute": "0", "net.inet.icmp.drop_redirect": "1", "net.inet.icmp.bmcastecho": "0",
    "net.inet.tcp.syncookies": "1", "net.inet6.ip6.accept_rtadv": "0", "net.inet6.ip6.forwarding": "0",
    "net.inet6.ip6.redirect": "0", "net.inet6.icmp6.rediraccept": "0", "net.inet.tcp.blackhole": "2",
    "net.inet.udp.blackhole": "1", "net.inet.icmp.maskrepl": "0", "net.inet.icmp.tstamprepl": "0",
    "net.inet.ip.random_id": "1", "net.inet.tcp.drop_synfin": "1", "security.bsd.see_other_uids": "0",
    "security.bsd.see_other_gids": "0", "security.bsd.see_jail_proc": "0",
    "security.bsd.unprivileged_read_msgbuf": "0", "security.bsd.unprivileged_proc_debug": "0",
    "security.bsd.allow_destructive_dtrace": "0", "security.bsd.hardlink_check_uid": "1",
    "security.bsd.hardlink_check_gid": "1",
}
# A stock-or-worse kernel: every hardening parameter at its permissive value.
WEAK_SYSCTLS = {
    **{key: ("1" if value == "0" else "0") for key, value in HARDENED_SYSCTLS.items()},
    "net.inet.tcp.blackhole": "0", "kern.securelevel": "-1",
}

LOGIN_CONF = """\
default:\\
\t:passwd_format={hash}:\\
\t:copyright=/etc/COPYRIGHT:\\
\t:welcome=/var/run/motd:\\
\t:setenv=BLOCKSIZE=K:\\
\t:path=/sbin /bin /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin ~/bin:\\
\t:umask={umask}:{extra}\\
\t:ignoretime@:
"""

HARDENED = Recording(
    files={
        "/etc/defaults/rc.conf": DEFAULTS_RC_CONF,
        "/etc/rc.conf": """\
hostname="bsd-hardened"
zfs_enable="YES"
sshd_enable="YES"
ntpd_enable="YES"
sendmail_enable="NONE"
syslogd_flags="-ss"
clear_tmp_enable="YES"
dumpdev="NO"
savecore_enable="NO"
update_motd="NO"
pf_enable="YES"
pflog_enable="YES"
auditd_enable="YES"
kern_securelevel_enable="YES"
kern_securelevel="1"
""",
        "/etc/ttys": "console\tnone\t\t\t\tunknown\toff insecure\n"
                     "ttyv0\t\"/usr/libexec/getty Pc\"\txterm\tonifexists secure\n",
        "/etc/pam.d/passwd": "password\trequisite\tpam_passwdqc.so\t\tmin=disabled,disabled,disabled,disabled,15 "
                             "similar=deny random=0 enforce=everyone\npassword\trequired\tpam_unix.so\t\tno_warn "
                             "try_first_pass nullok\n",
        "/etc/pam.d/su": "auth\t\tsufficient\tpam_rootok.so\t\tno_warn\nauth\t\trequisite\tpam_group.so\t\tno_warn "
                         "group=wheel root_only fail_safe ruser\n",
        "/etc/login.conf": LOGIN_CONF.format(hash="sha512", umask="077",
                                             extra="\\\n\t:passwordtime=90d:\\\n\t:coredumpsize=0:"),
        "/etc/periodic.conf": 'daily_clean_tmps_enable="YES"\n',
        "/etc/pkg/FreeBSD.conf": 'FreeBSD: {\n  url: "pkg+http://pkg.FreeBSD.org/${ABI}/quarterly",\n'
                                 '  mirror_type: "srv",\n  signature_type: "fingerprints",\n'
                                 '  fingerprints: "/usr/share/keys/pkg",\n  enabled: yes\n}\n',
        "/etc/ntp.conf": "pool 0.freebsd.pool.ntp.org iburst\nrestrict default limited kod nomodify notrap noquery\n",
        "/etc/syslog.conf": "*.err;kern.warning;auth.notice;mail.crit\t\t/dev/console\n"
                            "auth.info;authpriv.info\t\t\t\t\t/var/log/auth.log\n"
                            "security.*\t\t\t\t\t\t/var/log/security\n",
        "/etc/newsyslog.conf": "/var/log/auth.log\t\t\t600  7\t   1000 @0101T JC\n"
                               "/var/log/messages\t\t\t644  5\t   1000\t@0101T JC\n",
        "/etc/pf.conf": 'ext_if="vtnet0"\nset skip on lo0\nblock in log all\npass out quick keep state\n'
                        "pass in on $ext_if proto tcp to port 22\n",
        "/etc/security/audit_control": "dir:/var/audit\ndist:off\nflags:lo,aa,ad,fm,-fr,-fw\nminfree:5\n"
                                       "naflags:lo,aa\npolicy:cnt,argv\nfilesz:10M\nexpire-after:60d OR 5G\n",
        "/etc/security/audit_user": "root:lo:no\n",
        "/etc/passwd": "root:*:0:0:Charlie &:/root:/bin/sh\ntoor:*:0:0:Bourne-again Superuser:/root:\n"
                       "daemon:*:1:1:Owner of many system processes:/root:/usr/sbin/nologin\n"
                       "operator:*:2:5:System &:/:/usr/sbin/nologin\n"
                       "uucp:*:66:66:UUCP pseudo-user:/var/spool/uucppublic:/usr/local/libexec/uucp/uucico\n"
                       "nobody:*:65534:65534:Unprivileged user:/nonexistent:/usr/sbin/nologin\n"
                       "alice:*:1001:1001:Alice:/home/alice:/bin/sh\n",
        "/etc/master.passwd": "root:$6$Qz1e$hashedrootpasswordvalue:0:0::0:0:Charlie &:/root:/bin/sh\n"
                              "toor:*:0:0::0:0:Bourne-again Superuser:/root:\n"
                              "daemon:*:1:1::0:0:Owner of many system processes:/root:/usr/sbin/nologin\n"
                              "operator:*:2:5::0:0:System &:/:/usr/sbin/nologin\n"
                              "uucp:*:66:66::0:0:UUCP pseudo-user:/var/spool/uucppublic:"
                              "/usr/local/libexec/uucp/uucico\n"
                              "nobody:*:65534:65534::0:0:Unprivileged user:/nonexistent:/usr/sbin/nologin\n"
                              "alice:$6$aB3d$hashedalicepasswordvalue:1001:1001::0:0:Alice:/home/alice:/bin/sh\n",
        "/etc/group": "wheel:*:0:root,alice\ndaemon:*:1:\noperator:*:5:root\nuucp:*:66:\naudit:*:77:\n"
                      "nogroup:*:65533:\nnobody:*:65534:\nalice:*:1001:\n",
        "/etc/motd.template": "Authorised use only. Activity is monitored.\n",
        "/etc/ssh/sshd_config": "Banner /etc/ssh/banner\n",
        "/etc/crontab": "SHELL=/bin/sh\n",
        "/var/cron/allow": "root\n",
        "/var/at/at.allow": "root\n",
        "/var/log/messages": "", "/var/log/auth.log": "", "/var/log/security": "",
        "/boot/loader.conf": 'zfs_load="YES"\n', "/etc/sysctl.conf": "security.bsd.see_other_uids=0\n",
        "/etc/fstab": "", "/etc/pwd.db": "", "/etc/spwd.db": "",
    },
    modes={
        "/var/log/messages": (0o640, *ROOT_WHEEL), "/var/log/auth.log": (0o600, *ROOT_WHEEL),
        "/var/log/security": (0o600, *ROOT_WHEEL), "/etc/crontab": (0o600, *ROOT_WHEEL),
        "/etc/ssh/sshd_config": (0o600, *ROOT_WHEEL),
        **{f"/etc/ssh/ssh_host_{kind}_key": (0o600, *ROOT_WHEEL) for kind in ("rsa", "ecdsa", "ed25519")},
        **{f"/etc/ssh/ssh_host_{kind}_key.pub": (0o644, *ROOT_WHEEL) for kind in ("rsa", "ecdsa", "ed25519")},
        "/etc/master.passwd": (0o600, *ROOT_WHEEL), "/etc/spwd.db": (0o600, *ROOT_WHEEL),
        "/boot/loader.conf": (0o600, *ROOT_WHEEL), "/etc/pf.conf": (0o600, *ROOT_WHEEL),
        "/etc/security/audit_control": (0o600, *ROOT_WHEEL), "/etc/security/audit_user": (0o600, *ROOT_WHEEL),
    },
    dirs={"/etc/cron.d": (0o700, *ROOT_WHEEL), "/var/cron/tabs": (0o700, *ROOT_WHEEL),
          "/var/audit": (0o750, "root", "audit"), "/tmp": (0o1777, *ROOT_WHEEL)},
    sysctls=HARDENED_SYSCTLS,
    sshd_t=HARDENED_SSHD_T,
    mounts="zroot/ROOT/default\t/\tzfs\trw\t0 0\nzroot/tmp\t/tmp\tzfs\trw,nosuid,noexec\t0 0\n"
           "zroot/var\t/var\tzfs\trw,nosuid\t0 0\nzroot/var/tmp\t/var/tmp\tzfs\trw,nosuid,noexec\t0 0\n"
           "zroot/var/log\t/var/log\tzfs\trw,nosuid,noexec\t0 0\n"
           "zroot/var/audit\t/var/audit\tzfs\trw,nosuid,noexec\t0 0\n"
           "zroot/home\t/home\tzfs\trw,nosuid\t0 0\n",
    kldstat="Id Refs Address                Size Name\n 1   30 0xffffffff80200000  1f3e2d0 kernel\n"
            " 2    1 0xffffffff8213f000   5d5e08 zfs.ko\n 3    1 0xffffffff82716000     3390 pf.ko\n",
    pf_info="Status: Enabled for 3 days 02:11:10          Debug: Urgent\n\n"
            "State Table                          Total\n",
    packages=frozenset({"aide"}),
    running=frozenset({"auditd", "sshd", "pf"}),
)

NONCOMPLIANT = Recording(
    files={
        "/etc/defaults/rc.conf": DEFAULTS_RC_CONF,
        "/etc/rc.conf": """\
hostname="bsd-weak"
sshd_enable="YES"
syslogd_enable="NO"
cron_enable="NO"
inetd_enable="YES"
avahi_daemon_enable="YES"
cupsd_enable="YES"
rpcbind_enable="YES"
nis_server_enable="YES"
nis_client_enable="YES"
sendmail_enable="YES"
dhcpd_enable="YES"
slapd_enable="YES"
named_enable="YES"
ftpd_enable="YES"
apache24_enable="YES"
dovecot_enable="YES"
samba_server_enable="YES"
squid_enable="YES"
bsnmpd_enable="YES"
rsyncd_enable="YES"
nfs_server_enable="YES"
rwhod_enable="YES"
lpd_enable="YES"
""",
        "/etc/rc.conf.local": 'kern_securelevel_enable="NO"\nsavecore_enable="YES"\n',
        "/etc/ttys": "console\tnone\t\t\t\tunknown\toff secure\n",
        "/etc/pam.d/passwd": "password\trequired\tpam_unix.so\t\tno_warn try_first_pass nullok\n",
        "/etc/pam.d/su": "auth\t\tsufficient\tpam_rootok.so\t\tno_warn\n",
        "/etc/login.conf": LOGIN_CONF.format(hash="md5", umask="022", extra=""),
        "/etc/periodic.conf": 'daily_status_security_enable="NO"\nsecurity_status_chksetuid_enable="NO"\n',
        "/etc/pkg/FreeBSD.conf": 'FreeBSD: {\n  url: "pkg+http://pkg.FreeBSD.org/${ABI}/quarterly",\n'
                                 '  signature_type: "none",\n  enabled: yes\n}\n',
        "/etc/ntp.conf": "# no time sources configured\n",
        "/etc/syslog.conf": "*.err;kern.warning;mail.crit\t\t/dev/console\n",
        "/etc/newsyslog.conf": "/var/log/cron\t\t\t\t644  3\t   1000 *\tJC\n",
        "/etc/security/audit_control": "dir:/var/audit\ndist:off\nflags:-fr\nminfree:0\nnaflags:lo\npolicy:cnt\n",
        "/etc/security/audit_user": "root:lo:no\n",
        "/etc/passwd": "root:*:0:5:Charlie &:/root:/bin/sh\ntoor:*:0:0:Bourne-again Superuser:/root:\n"
                       "daemon:*:1:1:Owner of many system processes:/root:/bin/sh\n"
                       "backdoor:*:0:0:Maintenance:/root:/bin/sh\n"
                       "alice:*:1001:1001:Alice:/home/alice:/bin/sh\n"
                       "alice:*:1002:4242:Alice again:/home/alice2:/bin/sh\n"
                       "+::::::::\n",
        "/etc/master.passwd": "root:$1$saltsalt$weakmd5hashvalue:0:5::0:0:Charlie &:/root:/bin/sh\n"
                              "toor:$6$xYz$toorhasapasswordtoo:0:0::0:0:Bourne-again Superuser:/root:\n"
                              "daemon:*:1:1::0:0:Owner of many system processes:/root:/bin/sh\n"
                              "backdoor::0:0::0:0:Maintenance:/root:/bin/sh\n"
                              "legacy:abDEFghIJklMN:1003:1003::0:0:Legacy:/home/legacy:/bin/sh\n"
                              "+:::::::::\n",
        "/etc/group": "wheel:*:0:root\ndaemon:*:1:\nstaff:*:20:\nstaff2:*:20:\nalice:*:1001:\nalice:*:1003:\n"
                      "+:*::\n",
        "/etc/motd.template": "FreeBSD 14.1-RELEASE (GENERIC) releng/14.1\n\nWelcome to FreeBSD!\n",
        "/etc/ssh/sshd_config": "PermitRootLogin yes\n",
        "/etc/crontab": "SHELL=/bin/sh\n",
        "/var/log/messages": "", "/var/log/auth.log": "", "/var/log/security": "",
        "/boot/loader.conf": 'kern.securelevel=-1\n', "/etc/sysctl.conf": "", "/etc/fstab": "",
        "/etc/pwd.db": "", "/etc/spwd.db": "", "/usr/local/bin/orphan": "",
    },
    modes={
        "/var/log/messages": (0o644, *ROOT_WHEEL), "/var/log/auth.log": (0o644, *ROOT_WHEEL),
        "/var/log/security": (0o644, *ROOT_WHEEL), "/etc/crontab": (0o644, *ROOT_WHEEL),
        "/etc/ssh/sshd_config": (0o644, *ROOT_WHEEL),
        **{f"/etc/ssh/ssh_host_{kind}_key": (0o644, *ROOT_WHEEL) for kind in ("rsa", "ecdsa", "ed25519")},
        **{f"/etc/ssh/ssh_host_{kind}_key.pub": (0o666, *ROOT_WHEEL) for kind in ("rsa", "ecdsa", "ed25519")},
        "/etc/passwd": (0o664, *ROOT_WHEEL), "/etc/master.passwd": (0o644, *ROOT_WHEEL),
        "/etc/group": (0o666, *ROOT_WHEEL), "/etc/pwd.db": (0o664, "alice", "wheel"),
        "/etc/spwd.db": (0o644, *ROOT_WHEEL), "/etc/login.conf": (0o666, *ROOT_WHEEL),
        "/etc/sysctl.conf": (0o664, "alice", "alice"), "/etc/rc.conf": (0o666, *ROOT_WHEEL),
        "/etc/ttys": (0o664, *ROOT_WHEEL), "/etc/syslog.conf": (0o666, *ROOT_WHEEL),
        "/etc/newsyslog.conf": (0o666, *ROOT_WHEEL), "/etc/fstab": (0o664, *ROOT_WHEEL),
        "/etc/pf.conf": (0o644, *ROOT_WHEEL), "/boot/loader.conf": (0o644, *ROOT_WHEEL),
        "/etc/motd.template": (0o666, *ROOT_WHEEL),
        "/etc/security/audit_control": (0o644, *ROOT_WHEEL), "/etc/security/audit_user": (0o644, *ROOT_WHEEL),
        "/usr/local/bin/orphan": (0o755, "1005", "1005"),
    },
    dirs={"/etc/cron.d": (0o755, *ROOT_WHEEL), "/var/cron/tabs": (0o755, *ROOT_WHEEL),
          "/var/audit": (0o755, *ROOT_WHEEL), "/tmp": (0o777, *ROOT_WHEEL)},
    sysctls=WEAK_SYSCTLS,
    sshd_t=WEAK_SSHD_T,
    mounts="/dev/ada0p2\t/\tufs\trw\t1 1\ntmpfs\t/tmp\ttmpfs\trw\t0 0\ntmpfs\t/var/tmp\ttmpfs\trw\t0 0\n"
           "/dev/ada0p4\t/home\tufs\trw\t2 2\n",
    kldstat="Id Refs Address                Size Name\n 1   30 0xffffffff80200000  1f3e2d0 kernel\n"
            " 2    1 0xffffffff82a00000    3a4d0 ext2fs.ko\n 3    1 0xffffffff82a40000    c1f60 sctp.ko\n",
    packages=frozenset({"xorg-server"}),
)

# Neither pf nor ipfw is enabled on the misconfigured host: the pf-enabled check fails there and the checks of a
# chosen firewall's configuration do not apply. The hardened host chose pf, so the ipfw checks do not apply.
IPFW_CHECKS = {"3.5.2.1", "3.5.2.2", "3.5.2.3"}
PF_SETUP_CHECKS = {"3.5.1.2", "3.5.1.3", "3.5.1.4", "3.5.1.5"}
HARDENED_SKIPS = IPFW_CHECKS
NONCOMPLIANT_SKIPS = IPFW_CHECKS | PF_SETUP_CHECKS
# The misconfigured host has separate /tmp, /var/tmp and /home mounts (without nosuid/noexec, which fail), so the
# "is a separate file system" checks pass there.
NONCOMPLIANT_PASSES = {"1.1.2", "1.1.7", "1.1.13"}


def bsd_checks() -> list[tuple[str, str]]:
    return [(template, check.rule_id) for template in BSD_TEMPLATES for check in CONTENT.template(template).checks]


def rule_of(template: str, rule_id: str) -> dict:
    return next(check.rule for check in CONTENT.template(template).checks if check.rule_id == rule_id)


def expected_verdict(recording: str, rule_id: str) -> str:
    if recording == "hardened":
        return "skip" if rule_id in HARDENED_SKIPS else "pass"
    if rule_id in NONCOMPLIANT_SKIPS:
        return "skip"
    return "pass" if rule_id in NONCOMPLIANT_PASSES else "fail"


@pytest.mark.parametrize("recording", ["hardened", "noncompliant"])
@pytest.mark.parametrize(("template", "rule_id"), bsd_checks())
def test_every_bsd_check_on_recorded_hosts(recording: str, template: str, rule_id: str) -> None:
    host = RecordedBsdHost(HARDENED if recording == "hardened" else NONCOMPLIANT)
    result = evaluate(rule_of(template, rule_id), host)
    assert result.status == expected_verdict(recording, rule_id), f"{template} {rule_id}: {result.actual}"


def test_freebsd_content_has_at_least_120_distinct_checks() -> None:
    distinct = {repr(sorted(check.rule.items())) for template in ("cis-bsd-l2", "stig-bsd")
                for check in CONTENT.template(template).checks}
    assert len(CONTENT.template("cis-bsd-l2").checks) >= 120
    assert len(distinct) >= 120


def verdict(recording: Recording, rule_id: str, template: str = "cis-bsd-l2") -> tuple[str, str]:
    result = evaluate(rule_of(template, rule_id), RecordedBsdHost(recording))
    return result.status, result.actual


def with_rc_conf(recording: Recording, **files: str) -> Recording:
    return replace(recording, files={**recording.files, **files})


def test_ipfw_hosts_are_judged_by_the_ipfw_checks_not_the_pf_ones() -> None:
    rc_conf = HARDENED.files["/etc/rc.conf"].replace('pf_enable="YES"', 'pf_enable="NO"')
    ipfw = with_rc_conf(HARDENED, **{"/etc/rc.conf": rc_conf + 'firewall_enable="YES"\nfirewall_type="workstation"\n'
                                                              'firewall_logging="YES"\n'})
    ipfw = replace(ipfw, sysctls={**HARDENED_SYSCTLS, "net.inet.ip.fw.default_to_accept": "0"})
    assert [verdict(ipfw, rule_id)[0] for rule_id in ("3.5.1.1", "3.5.1.2", "3.5.1.3")] == ["skip"] * 3
    assert [verdict(ipfw, rule_id)[0] for rule_id in sorted(IPFW_CHECKS)] == ["pass"] * 3
    open_ipfw = with_rc_conf(ipfw, **{"/etc/rc.conf": ipfw.files["/etc/rc.conf"] + 'firewall_type="open"\n'})
    open_ipfw = replace(open_ipfw, sysctls={**HARDENED_SYSCTLS, "net.inet.ip.fw.default_to_accept": "1"})
    assert verdict(open_ipfw, "3.5.2.1") == ("fail", 'firewall_type="open" (/etc/rc.conf)')
    assert verdict(open_ipfw, "3.5.2.2")[0] == "fail"


@pytest.mark.parametrize(("ruleset", "status"), [
    ("block all\npass out keep state\n", "pass"),
    ("block drop in log quick on vtnet0 all\n", "pass"),
    ("block return in all\n", "pass"),
    ("# block in all\npass all\n", "fail"),
    ("block in quick proto tcp to port 23\npass all\n", "fail"),
])
def test_pf_default_deny_is_read_from_the_ruleset(ruleset: str, status: str) -> None:
    assert verdict(with_rc_conf(HARDENED, **{"/etc/pf.conf": ruleset}), "3.5.1.3")[0] == status


def test_pf_enabled_but_not_loaded_fails() -> None:
    assert verdict(replace(HARDENED, pf_info=""), "3.5.1.5")[0] == "fail"


def test_securelevel_follows_rc_conf_local_over_rc_conf() -> None:
    assert verdict(HARDENED, "1.5.16")[0] == "pass"
    lowered = with_rc_conf(HARDENED, **{"/etc/rc.conf.local": 'kern_securelevel="0"\n'})
    assert verdict(lowered, "1.5.16") == ("fail", 'kern_securelevel="0" (/etc/rc.conf.local)')
    unset = with_rc_conf(HARDENED, **{"/etc/rc.conf": 'kern_securelevel_enable="YES"\n'})
    assert verdict(unset, "1.5.16") == ("fail", 'kern_securelevel="-1" (/etc/defaults/rc.conf)')
    assert verdict(replace(HARDENED, sysctls={**HARDENED_SYSCTLS, "kern.securelevel": "2"}), "1.5.17")[0] == "pass"


def test_rc_defaults_decide_when_rc_conf_is_silent() -> None:
    assert verdict(HARDENED, "4.2.1.1") == ("pass", 'syslogd_enable="YES" (/etc/defaults/rc.conf)')
    assert verdict(HARDENED, "5.1.1")[0] == "pass"
    without_defaults = replace(HARDENED, files={k: v for k, v in HARDENED.files.items()
                                                if k != "/etc/defaults/rc.conf"})
    assert verdict(without_defaults, "1.7.2")[0] == "pass"  # set in rc.conf itself
    assert verdict(without_defaults, "1.5.13")[0] == "pass"


def test_a_kernel_without_the_parameter_is_skipped() -> None:
    no_compat32 = {key: value for key, value in HARDENED_SYSCTLS.items() if key != "kern.elf32.aslr.enable"}
    assert verdict(replace(HARDENED, sysctls=no_compat32), "1.5.10") == ("skip", "kern.elf32.aslr.enable not present")


def test_account_checks_never_report_password_hashes() -> None:
    for rule_id in ("6.2.1", "6.2.6", "6.2.7"):
        status, actual = verdict(NONCOMPLIANT, rule_id)
        assert status == "fail"
        assert "$" not in actual and "hash" not in actual and "abDEF" not in actual, actual
    assert verdict(NONCOMPLIANT, "6.2.1")[1] == "backdoor:<empty>"
    assert verdict(NONCOMPLIANT, "6.2.6")[1] == "toor:<redacted>"


def test_stock_uid_0_toor_is_accepted_but_other_uid_0_accounts_are_not() -> None:
    assert verdict(HARDENED, "6.2.5")[0] == "pass"
    assert verdict(NONCOMPLIANT, "6.2.5")[1].startswith("backdoor:")


def test_system_accounts_with_a_shell_are_found_but_uucp_keeps_its_uucico() -> None:
    assert verdict(HARDENED, "5.4.2")[0] == "pass"
    status, actual = verdict(NONCOMPLIANT, "5.4.2")
    assert status == "fail" and actual.startswith("daemon:")


def test_audit_flags_must_name_the_class_itself() -> None:
    control = HARDENED.files["/etc/security/audit_control"]
    failures_only = with_rc_conf(HARDENED, **{"/etc/security/audit_control": control.replace(
        "flags:lo,aa,ad,fm,-fr,-fw", "flags:-lo,+aa,ad")})
    assert verdict(failures_only, "4.1.3.1")[0] == "fail"  # only failed logins
    assert verdict(failures_only, "4.1.3.2")[0] == "fail"  # only successful authentications
    assert verdict(failures_only, "4.1.3.3")[0] == "pass"


def test_sshd_checks_read_sshd_t() -> None:
    host = RecordedBsdHost(HARDENED)
    assert evaluate(rule_of("cis-bsd-l2", "5.2.25"), host).actual == "permittunnel no"
    assert host.ran == [("/usr/sbin/sshd", "-T")]
    assert verdict(NONCOMPLIANT, "5.2.15") == (
        "fail", "kexalgorithms diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,curve25519-sha256")
