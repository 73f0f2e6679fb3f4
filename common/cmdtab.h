/*
 * cmdtab.h - the shape of a protocol's command table (smtpd, pop3d,
 * imapd next)
 *
 * Each daemon declares its table with CMDTAB_ENTRY(its session type):
 * the verb (matched without case), the handler, the states it is allowed
 * in (a mask of CMDTAB_ST(state)) and flags.  The flags below mean the
 * same in every daemon; a daemon may add its own from CMDTAB_F_LOCAL up.
 * The table ends with an entry whose verb is NULL (its handler and flags
 * are what an unknown verb gets).
 */
#ifndef BUZON_CMDTAB_H
#define BUZON_CMDTAB_H

#define CMDTAB_ST(s)		(1u << (s))
#define CMDTAB_ST_ANY		(~0u)

#define CMDTAB_F_PRE_TLS	0x01u	/* allowed before TLS where required */
#define CMDTAB_F_GROUP_END	0x02u	/* ends a pipelined group: flush */
#define CMDTAB_F_LOGIN		0x04u	/* a login command: TLS rule */
#define CMDTAB_F_NEEDS_LOGIN	0x08u	/* only once logged in */
#define CMDTAB_F_LOCAL		0x100u	/* the daemon's own from here */

#define CMDTAB_ENTRY(sess_type)						\
	struct {							\
		const char	*verb;					\
		void		(*fn)(sess_type *, char *arg);		\
		unsigned int	 states;				\
		unsigned int	 flags;					\
	}

#endif
