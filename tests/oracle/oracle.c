/* SPDX-License-Identifier: MIT */
/* The scenario engine of the differential oracle (see oracle.h). */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>

#include "oracle.h"

#ifndef EVTCHNOP_reset_cont
#define EVTCHNOP_reset_cont 14 /* Xen-internal in the public header */
#endif

#define MAX_NAMES 64
#define MAX_TOKENS 8

struct name {
	char id[24];
	uint32_t port;
};

struct run {
	const struct oracle_backend *be;
	const char *scn;
	FILE *out;
	int lineno;
	struct name names[MAX_NAMES];
	int nr_names;
};

static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ XEN_EPERM, "EPERM" },     { XEN_ENOENT, "ENOENT" },
	{ XEN_ESRCH, "ESRCH" },     { XEN_ENXIO, "ENXIO" },
	{ XEN_EAGAIN, "EAGAIN" },   { XEN_ENOMEM, "ENOMEM" },
	{ XEN_EACCES, "EACCES" },   { XEN_EFAULT, "EFAULT" },
	{ XEN_EBUSY, "EBUSY" },     { XEN_EEXIST, "EEXIST" },
	{ XEN_EINVAL, "EINVAL" },   { XEN_ENOSPC, "ENOSPC" },
	{ XEN_ENOSYS, "ENOSYS" },   { XEN_EOPNOTSUPP, "EOPNOTSUPP" },
	{ XEN_ETIME, "ETIME" },
};

static void print_rc(struct run *r, long rc)
{
	if (rc >= 0) {
		fprintf(r->out, "%ld", rc);
		return;
	}
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == -rc) {
			fprintf(r->out, "-%s", errnames[i].name);
			return;
		}
	fprintf(r->out, "-E%ld", -rc);
}

static struct name *name_find(struct run *r, const char *id)
{
	for (int i = 0; i < r->nr_names; i++)
		if (!strcmp(r->names[i].id, id))
			return &r->names[i];
	return NULL;
}

/* The most recent name of a port number, for output. */
static const char *port_sym(struct run *r, uint32_t port)
{
	for (int i = r->nr_names - 1; i >= 0; i--)
		if (r->names[i].port == port)
			return r->names[i].id;
	return "unnamed";
}

static int fail(struct run *r, const char *msg, const char *tok)
{
	fprintf(stderr, "%s:%d: %s%s%s\n", r->scn, r->lineno, msg,
		tok ? ": " : "", tok ? tok : "");
	return -1;
}

/* A value: self, a number, $name, $name+N, $name-N. */
static int parse_value(struct run *r, const char *s, uint64_t *v)
{
	char *end;

	if (!strcmp(s, "self")) {
		*v = DOMID_SELF;
		return 0;
	}
	if (s[0] == '$') {
		char id[24];
		size_t n = strcspn(s, "+-");
		struct name *nm;
		long off = 0;

		if (n >= sizeof(id))
			return fail(r, "name too long", s);
		memcpy(id, s, n);
		id[n] = 0;
		nm = name_find(r, id);
		if (!nm)
			return fail(r, "unknown name", id);
		if (s[n]) {
			off = strtol(s + n, &end, 0);
			if (*end)
				return fail(r, "bad offset", s);
		}
		*v = (uint64_t)nm->port + (uint64_t)off;
		return 0;
	}
	*v = strtoull(s, &end, 0);
	if (!*s || *end)
		return fail(r, "bad value", s);
	return 0;
}

struct line {
	char *bind;           /* "$x" of "$x = op", or NULL */
	char *op;
	char *key[MAX_TOKENS];
	char *val[MAX_TOKENS];
	int nr;
};

/* The value of @key, or @dflt when absent; -1 on a bad value. */
static int arg(struct run *r, struct line *l, const char *key, uint64_t dflt,
	       uint64_t *v)
{
	for (int i = 0; i < l->nr; i++)
		if (!strcmp(l->key[i], key))
			return parse_value(r, l->val[i], v);
	*v = dflt;
	return 0;
}

static enum oracle_addr addr_of(struct line *l)
{
	for (int i = 0; i < l->nr; i++) {
		if (strcmp(l->key[i], "addr"))
			continue;
		if (!strcmp(l->val[i], "null"))
			return ORACLE_ADDR_NULL;
		if (!strcmp(l->val[i], "unmapped"))
			return ORACLE_ADDR_UNMAPPED;
		if (!strcmp(l->val[i], "straddle"))
			return ORACLE_ADDR_STRADDLE;
	}
	return ORACLE_ADDR_OK;
}

static int split(struct run *r, char *s, struct line *l)
{
	char *tok[MAX_TOKENS + 3];
	int n = 0, i = 0;

	memset(l, 0, sizeof(*l));
	for (char *t = strtok(s, " \t"); t; t = strtok(NULL, " \t")) {
		if (n == MAX_TOKENS + 3)
			return fail(r, "too many words", NULL);
		tok[n++] = t;
	}
	if (n >= 3 && tok[0][0] == '$' && !strcmp(tok[1], "=")) {
		l->bind = tok[0];
		i = 2;
	}
	if (i >= n)
		return fail(r, "no operation", NULL);
	l->op = tok[i++];
	for (; i < n; i++) {
		char *eq = strchr(tok[i], '=');

		if (!eq)
			return fail(r, "expected key=value", tok[i]);
		*eq = 0;
		l->key[l->nr] = tok[i];
		l->val[l->nr++] = eq + 1;
	}
	return 0;
}

static void bind_name(struct run *r, const char *id, uint32_t port)
{
	struct name *nm = name_find(r, id);
	const char *prev = port_sym(r, port);

	if (strcmp(prev, "unnamed") && strcmp(prev, id))
		fprintf(r->out, " (reuses %s)", prev);
	if (!nm && r->nr_names < MAX_NAMES) {
		nm = &r->names[r->nr_names++];
		snprintf(nm->id, sizeof(nm->id), "%s", id);
	}
	if (nm)
		nm->port = port;
}

static void print_status(struct run *r, const struct evtchn_status *s)
{
	static const char *const st[] = { "closed", "unbound", "interdomain",
					  "pirq", "virq", "ipi" };

	fprintf(r->out, " status=%s vcpu=%u",
		s->status < 6 ? st[s->status] : "?", s->vcpu);
	switch (s->status) {
	case EVTCHNSTAT_unbound:
		fprintf(r->out, " remote_dom=%u", s->u.unbound.dom);
		break;
	case EVTCHNSTAT_interdomain:
		fprintf(r->out, " remote_dom=%u remote_port=%s",
			s->u.interdomain.dom,
			port_sym(r, s->u.interdomain.port));
		break;
	case EVTCHNSTAT_virq:
		fprintf(r->out, " virq=%u", s->u.virq);
		break;
	default:
		break;
	}
}

/* VCPUOP_set_singleshot_timer from vCPU 0: only deadlines in the past, so
 * dom0's own timer is not moved (Xen fires VIRQ_TIMER at once, and dom0's
 * handler programs its next event again). */
static int exec_singleshot(struct run *r, struct line *l)
{
	struct vcpu_set_singleshot_timer ss = { 0 };
	uint64_t vcpu, v;
	long rc;

	if (arg(r, l, "vcpu", 0, &vcpu) || arg(r, l, "deadline", 1, &v))
		return -1;
	ss.timeout_abs_ns = v;
	if (arg(r, l, "flags", 0, &v))
		return -1;
	ss.flags = (uint32_t)v;
	rc = r->be->vcpu_op(r->be->ctx, VCPUOP_set_singleshot_timer,
			    (uint32_t)vcpu, &ss, sizeof(ss), addr_of(l));
	fprintf(r->out, " => ");
	print_rc(r, rc);
	return 0;
}

/* Execute one line; -1 for a malformed line. */
static int exec_line(struct run *r, struct line *l)
{
	union {
		struct evtchn_alloc_unbound alloc;
		struct evtchn_bind_interdomain inter;
		struct evtchn_bind_ipi ipi;
		struct evtchn_bind_virq virq;
		struct evtchn_bind_vcpu vcpu;
		struct evtchn_close close;
		struct evtchn_send send;
		struct evtchn_status status;
		struct evtchn_unmask unmask;
		struct evtchn_set_priority prio;
		struct evtchn_reset reset;
		struct evtchn_expand_array expand;
		struct evtchn_init_control init;
		uint8_t raw[32];
	} a;
	uint64_t v1, v2;
	uint32_t *port_out = NULL;
	size_t len;
	long rc;
	int cmd;

	memset(&a, 0, sizeof(a));
	if (!strcmp(l->op, "singleshot"))
		return exec_singleshot(r, l);
	if (!strcmp(l->op, "alloc_unbound")) {
		if (arg(r, l, "dom", DOMID_SELF, &v1) ||
		    arg(r, l, "remote", DOMID_SELF, &v2))
			return -1;
		a.alloc.dom = v1;
		a.alloc.remote_dom = v2;
		cmd = EVTCHNOP_alloc_unbound;
		len = sizeof(a.alloc);
		port_out = &a.alloc.port;
	} else if (!strcmp(l->op, "bind_interdomain")) {
		if (arg(r, l, "dom", DOMID_SELF, &v1) ||
		    arg(r, l, "port", 0, &v2))
			return -1;
		a.inter.remote_dom = v1;
		a.inter.remote_port = v2;
		cmd = EVTCHNOP_bind_interdomain;
		len = sizeof(a.inter);
		port_out = &a.inter.local_port;
	} else if (!strcmp(l->op, "bind_ipi")) {
		if (arg(r, l, "vcpu", 0, &v1))
			return -1;
		a.ipi.vcpu = v1;
		cmd = EVTCHNOP_bind_ipi;
		len = sizeof(a.ipi);
		port_out = &a.ipi.port;
	} else if (!strcmp(l->op, "bind_virq")) {
		if (arg(r, l, "virq", 0, &v1) || arg(r, l, "vcpu", 0, &v2))
			return -1;
		a.virq.virq = v1;
		a.virq.vcpu = v2;
		cmd = EVTCHNOP_bind_virq;
		len = sizeof(a.virq);
		port_out = &a.virq.port;
	} else if (!strcmp(l->op, "bind_vcpu")) {
		if (arg(r, l, "port", 0, &v1) || arg(r, l, "vcpu", 0, &v2))
			return -1;
		a.vcpu.port = v1;
		a.vcpu.vcpu = v2;
		cmd = EVTCHNOP_bind_vcpu;
		len = sizeof(a.vcpu);
	} else if (!strcmp(l->op, "close") || !strcmp(l->op, "send") ||
		   !strcmp(l->op, "unmask")) {
		if (arg(r, l, "port", 0, &v1))
			return -1;
		a.close.port = v1; /* all three are { port } */
		cmd = l->op[0] == 'c' ? EVTCHNOP_close
		      : l->op[0] == 's' ? EVTCHNOP_send : EVTCHNOP_unmask;
		len = sizeof(a.close);
	} else if (!strcmp(l->op, "status")) {
		if (arg(r, l, "dom", DOMID_SELF, &v1) ||
		    arg(r, l, "port", 0, &v2))
			return -1;
		a.status.dom = v1;
		a.status.port = v2;
		cmd = EVTCHNOP_status;
		len = sizeof(a.status);
	} else if (!strcmp(l->op, "set_priority")) {
		if (arg(r, l, "port", 0, &v1) || arg(r, l, "prio", 7, &v2))
			return -1;
		a.prio.port = v1;
		a.prio.priority = v2;
		cmd = EVTCHNOP_set_priority;
		len = sizeof(a.prio);
	} else if (!strcmp(l->op, "reset") || !strcmp(l->op, "reset_cont")) {
		if (arg(r, l, "dom", DOMID_SELF, &v1))
			return -1;
		a.reset.dom = v1;
		cmd = l->op[5] ? EVTCHNOP_reset_cont : EVTCHNOP_reset;
		len = sizeof(a.reset);
	} else if (!strcmp(l->op, "expand_array")) {
		if (arg(r, l, "gfn", 0, &v1))
			return -1;
		a.expand.array_gfn = v1;
		cmd = EVTCHNOP_expand_array;
		len = sizeof(a.expand);
	} else if (!strcmp(l->op, "init_control")) {
		if (arg(r, l, "vcpu", 0, &v1) || arg(r, l, "gfn", 0, &v2))
			return -1;
		a.init.vcpu = v1;
		a.init.control_gfn = v2;
		if (arg(r, l, "offset", 0, &v1))
			return -1;
		a.init.offset = v1;
		cmd = EVTCHNOP_init_control;
		len = sizeof(a.init);
	} else if (!strcmp(l->op, "raw")) {
		if (arg(r, l, "cmd", 0, &v1))
			return -1;
		cmd = (int)v1;
		len = sizeof(a.raw);
	} else {
		return fail(r, "unknown operation", l->op);
	}

	rc = r->be->op(r->be->ctx, cmd, &a, len, addr_of(l));
	fprintf(r->out, " => ");
	print_rc(r, rc);
	if (rc == 0 && port_out) {
		if (l->bind) {
			fprintf(r->out, " port=%s", l->bind);
			bind_name(r, l->bind, *port_out);
		} else {
			fprintf(r->out, " port=%s", port_sym(r, *port_out));
		}
	}
	if (rc == 0 && cmd == EVTCHNOP_status)
		print_status(r, &a.status);
	if (rc == 0 && cmd == EVTCHNOP_init_control)
		fprintf(r->out, " link_bits=%u", a.init.link_bits);
	return 0;
}

/* Close every named port: scenarios leave dom0 as they found it. */
static void cleanup(struct run *r)
{
	struct evtchn_close c;

	for (int i = r->nr_names - 1; i >= 0; i--) {
		c.port = r->names[i].port;
		(void)r->be->op(r->be->ctx, EVTCHNOP_close, &c, sizeof(c),
				ORACLE_ADDR_OK);
	}
}

int oracle_run(const struct oracle_backend *be, const char *name,
	       const char *text, FILE *out)
{
	struct run r = { .be = be, .scn = name, .out = out };
	char *copy = strdup(text), *save = NULL, *s;
	int rc = 0;

	if (!copy)
		return -1;
	fprintf(out, "== %s\n", name);
	for (s = strtok_r(copy, "\n", &save); s && rc == 0;
	     s = strtok_r(NULL, "\n", &save)) {
		char shown[256], *hash;
		struct line l;
		size_t n;

		r.lineno++;
		hash = strchr(s, '#');
		if (hash)
			*hash = 0;
		while (isspace((unsigned char)*s))
			s++;
		n = strlen(s);
		while (n && isspace((unsigned char)s[n - 1]))
			s[--n] = 0;
		if (!n)
			continue;
		snprintf(shown, sizeof(shown), "%s", s);
		if (split(&r, s, &l)) {
			rc = -1;
			break;
		}
		fprintf(out, "%s", shown);
		rc = exec_line(&r, &l);
		fprintf(out, "\n");
	}
	cleanup(&r);
	free(copy);
	return rc;
}

char *oracle_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc(n + 1);
		if (buf && fread(buf, 1, n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = 0;
		}
	}
	fclose(f);
	return buf;
}
