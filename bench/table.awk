# SPDX-License-Identifier: Apache-2.0
# The table of bench/run.sh: one line per row, from its results file, whose
# lines are "NAME COL median min max" (COL: backing, pll, bindfs, bfs, or a
# figure's own name). Variables (-v): small, main, rdn, large, ws, nstatus,
# churn, mchurn_sec, the sizes the rows are labelled with.
function num(x) {
	if (x >= 1e6) return sprintf("%.2fM", x / 1e6)
	if (x >= 1e4) return sprintf("%.1fk", x / 1e3)
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
function cell(name, col) {
	if (!((name, col) in med)) return "-"
	return num(lo[name, col]) "/" num(med[name, col]) "/" num(hi[name, col])
}
function m(name, col) { return ((name, col) in med) ? med[name, col] : "" }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "" : a / b }
function rfmt(x) { return x == "" ? "-" : sprintf("%.2f", x) }
function line(label, b, p, i, f, rpeer, rb, target, ok) {
	printf "| %-40s | %-20s | %-20s | %-20s | %-20s | %-13s | %-7s | %-30s | %-4s |\n", \
		label, b, p, i, f, rpeer, rb, target, ok
}
# Numbers compared as numbers: lim comes as a string, and a ratio of 10 or
# more is less than "5.0" as a string.
function verdict(x, op, lim) {
	if (x == "") return "MISS"
	return (op == ">=" ? x + 0 >= lim + 0 : x + 0 <= lim + 0) ? "PASS" : "MISS"
}
# The best peer of a rate (higher is better) or of a time or cost (lower).
function best(name, lower,    p, i) {
	p = m(name, "pll"); i = m(name, "bindfs")
	if (p == "") { bestname = i == "" ? "" : "bindfs"; return i }
	if (i == "") { bestname = "pll"; return p }
	if ((lower && i < p) || (!lower && i > p)) { bestname = "bindfs"; return i }
	bestname = "pll"; return p
}
function peer_cell(name, lower,    bp, r) {
	bp = best(name, lower)
	r = lower ? ratio(bp, m(name, "bfs")) : ratio(m(name, "bfs"), bp)
	return r == "" ? "-" : sprintf("%.2f %s", r, bestname)
}
# A rate row; which: "pll", "backing", "bindfs+pll" (cold stat) or "".
function rate_row(label, name, which, lim,    f, rb, ok, tgt, rp, ri) {
	f = m(name, "bfs")
	rb = ratio(f, m(name, "backing"))
	ok = ""; tgt = ""
	if (which == "pll") {
		ok = verdict(ratio(f, m(name, "pll")), ">=", lim); tgt = "bfs/pll >= " lim
	} else if (which == "backing") {
		ok = verdict(rb, ">=", lim); tgt = "bfs/backing >= " lim
	} else if (which == "bindfs+pll") {
		ri = ratio(f, m(name, "bindfs")); rp = ratio(f, m(name, "pll"))
		ok = verdict(ri, ">=", 1.0) == "PASS" && verdict(rp, ">=", lim) == "PASS" ? \
			"PASS" : "MISS"
		tgt = "bfs/bindfs >= 1.0, /pll >= " lim
	}
	line(label, cell(name, "backing"), cell(name, "pll"), cell(name, "bindfs"), \
		cell(name, "bfs"), peer_cell(name, 0), rfmt(rb), tgt, ok)
}
# Per-operation cost large / small = rate small / rate large (medians).
function cost_row(label, s, l,    b, p, i, f) {
	b = ratio(m(s, "backing"), m(l, "backing"))
	p = ratio(m(s, "pll"), m(l, "pll"))
	i = ratio(m(s, "bindfs"), m(l, "bindfs"))
	f = ratio(m(s, "bfs"), m(l, "bfs"))
	line(label, rfmt(b), rfmt(p), rfmt(i), rfmt(f), "", "", "bfs <= 1.2", verdict(f, "<=", 1.2))
}
# Scaling: rate with n threads / rate with one (medians).
function scale_row(label, one, n, lim,    b, p, i, f) {
	b = ratio(m(n, "backing"), m(one, "backing"))
	p = ratio(m(n, "pll"), m(one, "pll"))
	i = ratio(m(n, "bindfs"), m(one, "bindfs"))
	f = ratio(m(n, "bfs"), m(one, "bfs"))
	line(label, rfmt(b), rfmt(p), rfmt(i), rfmt(f), "", "", "bfs >= " lim, verdict(f, ">=", lim))
}
function mib(k) { return k == "" ? "" : k / 1024 }
function mfmt(x) { return x == "" ? "-" : sprintf("%.1f", x) }
{ med[$1, $2] = $3; lo[$1, $2] = $4; hi[$1, $2] = $5 }
END {
	line("operation", "backing", "passthrough_ll", "bindfs", "bundlefs", "vs best peer", \
		"vs bak", "target", "res")
	printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------", \
		"----------------------", "----------------------", "----------------------", \
		"----------------------", "---------------", "---------", \
		"--------------------------------", "------"
	rate_row("cold stat, " main " bundles (1/s)", "cold_stat", "bindfs+pll", "1.5")
	rate_row("warm stat, set of " ws " (1/s)", "warm_stat", "backing", "0.5")
	rate_row("stat after first lookups, pass 1 (1/s)", "warm_pass-p1", "backing", "0.95")
	rate_row("stat after first lookups, pass 2 (1/s)", "warm_pass-p2", "backing", "0.95")
	rate_row("stat after first lookups, pass 3 (1/s)", "warm_pass-p3", "backing", "0.95")
	rate_row("address read, " main " (1/s)", "read", "pll", "2.0")
	rate_row("stored address read, warm (1/s)", "read_stored", "backing", "0.5")
	rate_row("readdir, " rdn " entries (entries/s)", "readdir", "pll", "5.0")
	rate_row("warm readdir, " main " entries (ent/s)", "warm_readdir", "backing", "0.95")
	rate_row("status, " nstatus " dead sockets (1/s)", "status_dead", "", "")
	rate_row("status, " nstatus ", half live (1/s)", "status_half", "", "")
	line("grep -l stale */*/status, " nstatus " (s)", "-", "-", "-", cell("stale_grep", "bfs"), \
		"", "", "", "")
	rate_row("create-delete cycle (1/s)", "cycle", "backing", "0.55")
	rate_row("cold stat, 2 threads (1/s)", "cold_stat_2t", "pll", "1.0")
	rate_row("cold stat, 4 threads (1/s)", "cold_stat_4t", "", "")
	scale_row("cold stat, 4 threads / 1 thread", "cold_stat", "cold_stat_4t", "1.6")
	rate_row("address read, 2 threads (1/s)", "read_2t", "pll", "1.0")
	rate_row("cold stat, small ns: " small " (1/s)", "cold_stat_small", "", "")
	rate_row("cold stat, large ns: " large " (1/s)", "cold_stat_large", "", "")
	cost_row("cold stat cost, large/small", "cold_stat_small", "cold_stat_large")
	rate_row("address read, small ns: " small " (1/s)", "read_small", "", "")
	rate_row("address read, large ns: " large " (1/s)", "read_large", "", "")
	cost_row("address read cost, large/small", "read_small", "read_large")
	f = mib(m("rss", "bfs-alone"))
	line("daemon peak RSS, " large " bundles alone (MiB)", "-", "-", "-", mfmt(f), "", "", \
		"bfs <= 48", verdict(f, "<=", 48))
	f = m("fds", "bfs-alone")
	line("  open descriptors then", "-", "-", "-", f == "" ? "-" : f, "", "", \
		"bfs <= 16", verdict(f, "<=", 16))
	line("daemon peak RSS after every row (MiB)", "-", mfmt(mib(m("rss", "pll"))), \
		mfmt(mib(m("rss", "bindfs"))), mfmt(mib(m("rss", "bfs"))), "", "", "", "")
	f = m("fds", "bfs")
	line("daemon open descriptors", "-", m("fds", "pll") == "" ? "-" : m("fds", "pll"), \
		m("fds", "bindfs") == "" ? "-" : m("fds", "bindfs"), f == "" ? "-" : f, "", "", \
		"bfs <= 16", verdict(f, "<=", 16))
	line("churn of " churn " bundles beside, wall (ms)", cell("churn", "backing"), "-", "-", \
		cell("churn", "bfs"), "", rfmt(ratio(m("churn", "bfs"), m("churn", "backing"))), "", "")
	line("daemon CPU during churn beside (ms)", "0", "-", "-", cell("churn_mnt", "bfs-cpu"), \
		"", "", "", "")
	line("churn through mounts, " mchurn_sec " s (bundles/s)", "-", "-", "-", \
		num(m("mchurn", "rate")), "", "", "", "")
	line("  status reads on the ro mount (1/s)", "-", "-", "-", num(m("mchurn", "reads")), \
		"", "", "", "")
	for (k = 0; k < 2; k++) {
		d = k ? "ro" : "rw"
		line("  " d " daemon RSS start/warm/end (MiB)", "-", "-", "-", \
			mfmt(mib(m("mchurn", d "-rss-start"))) "/" mfmt(mib(m("mchurn", d "-rss-warm"))) \
			"/" mfmt(mib(m("mchurn", d "-rss-end"))), "", "", "", "")
		line("  " d " daemon anon RSS start/warm/end", "-", "-", "-", \
			mfmt(mib(m("mchurn", d "-anon-start"))) "/" \
			mfmt(mib(m("mchurn", d "-anon-warm"))) "/" mfmt(mib(m("mchurn", d "-anon-end"))), \
			"", "", "", "")
		line("  " d " daemon descriptors start/end", "-", "-", "-", \
			m("mchurn", d "-fds-start") "/" m("mchurn", d "-fds-end"), "", "", "", "")
		g = mib(m("mchurn", d "-rss-end") - m("mchurn", d "-rss-warm"))
		line("  " d " daemon RSS growth after warm-up", "-", "-", "-", mfmt(g), "", "", \
			"bfs <= 1 MiB", verdict(g, "<=", 1))
	}
}
