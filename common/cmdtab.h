/*
 * cmdtab.h - the shape of a protocol's command table (smtpd, pop3d,
 * imapd next)
 *
 * Each daemon declares its table with CMDTAB_ENTRY(its session type):
 * the verb (matched without case), the handler, the states it is allowed
 * in (a mask of CMDTAB_ST(state)) and flags.  The flags below mean the
 * same in every daemon; a daemon may add its own from CMDTAB_F_LOCAL up.
 * The table ends with an entry whose verb is NULL (its handler and flags
 * are what an unknown verb gets).  A user of CMDTAB_FIND includes
 * <strings.h>.
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

/* The same as a named type: struct tag. */
#define CMDTAB_STRUCT(tag, sess_type)					\
	struct tag {							\
		const char	*verb;					\
		void		(*fn)(sess_type *, char *arg);		\
		unsigned int	 states;				\
		unsigned int	 flags;					\
	}

/* A named entry type (struct tag), with the text a verb gets in a state
 * it is not allowed in (SMTP's 503 texts differ per verb; NULL: the
 * daemon's default). */
#define CMDTAB_STRUCT_TEXT(tag, sess_type)				\
	struct tag {							\
		const char	*verb;					\
		void		(*fn)(sess_type *, char *arg);		\
		unsigned int	 states;				\
		unsigned int	 flags;					\
		const char	*state_text;				\
	}

/* Point c (a pointer to an entry of table) at verb's entry, or at the
 * closing entry (verb NULL) when the table has no such verb.  Verbs match
 * without case, in table order. */
#define CMDTAB_FIND(table, word, c)					\
	for ((c) = (table); (c)->verb != NULL &&			\
	    strcasecmp((c)->verb, (word)) != 0; (c)++)			\
		continue

/* Is entry c allowed in state st (a number below 32)? */
#define CMDTAB_ALLOWED(c, st)	(((c)->states & CMDTAB_ST(st)) != 0)

#endif
