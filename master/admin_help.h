/*
 * admin_help.h - `buzon VERB --help` texts of the account verbs
 */
#ifndef BUZON_ADMIN_HELP_H
#define BUZON_ADMIN_HELP_H

#define ADMIN_DOMAIN_HELP \
	"usage: buzon [-c FILE] domain add DOMAIN\n" \
	"       buzon [-c FILE] domain del DOMAIN\n" \
	"       buzon [-c FILE] domain list\n" \
	"\n" \
	"The local domains: mail to them is delivered here, to users and\n" \
	"aliases of the domain.  Names are stored in lower case.  A domain\n" \
	"is deleted only once it has no users and no aliases left.  Changes\n" \
	"take effect at once, also while the mail system runs.\n" \
	"\n" \
	"Exit status: 0 done; 1 failed (invalid name, domain exists, unknown\n" \
	"domain, users left); 2 bad usage.\n"

#define ADMIN_USER_HELP \
	"usage: buzon [-c FILE] user add ADDRESS [--mbox] [--quota SIZE]\n" \
	"                                 [--password-stdin]\n" \
	"       buzon [-c FILE] user del ADDRESS\n" \
	"       buzon [-c FILE] user passwd ADDRESS [--password-stdin]\n" \
	"       buzon [-c FILE] user list [DOMAIN]\n" \
	"       buzon [-c FILE] user show ADDRESS\n" \
	"       buzon [-c FILE] user enable|disable ADDRESS\n" \
	"       buzon [-c FILE] user apop enable ADDRESS [--password-stdin]\n" \
	"       buzon [-c FILE] user apop disable ADDRESS\n" \
	"\n" \
	"Users log in with their full address and receive mail there.\n" \
	"add     creates the user in a local domain (see buzon domain) and\n" \
	"        the mailbox STATE/mail/DOMAIN/LOCALPART: a Maildir with the\n" \
	"        folders Sent, Drafts, Trash and Junk, or with --mbox mbox\n" \
	"        files; --quota SIZE (e.g. 500M, 2G; 0 = none) limits it.\n" \
	"del     removes the user; the mailbox stays on disk.\n" \
	"passwd  sets a new password.\n" \
	"list    prints every user (of DOMAIN), one a line.\n" \
	"show    prints a user's settings (never the password).\n" \
	"enable, disable  allow or refuse the user's logins; mail is\n" \
	"        still delivered.\n" \
	"apop    stores a separate APOP secret for POP3 APOP logins, or\n" \
	"        removes it.  APOP needs the server to keep that secret\n" \
	"        readable, not hashed: use a secret used nowhere else.\n" \
	"\n" \
	"Passwords are read without echo from the terminal, twice, or with\n" \
	"--password-stdin as one line of standard input (for scripts).\n" \
	"They are stored as yescrypt hashes.\n" \
	"\n" \
	"Exit status: 0 done; 1 failed (invalid address, unknown domain, user\n" \
	"exists, no such user, password refused); 2 bad usage; 75 a map could\n" \
	"not be read.\n"

#define ADMIN_ALIAS_HELP \
	"usage: buzon [-c FILE] alias add SOURCE TARGET[,TARGET...]\n" \
	"       buzon [-c FILE] alias del SOURCE [TARGET]\n" \
	"       buzon [-c FILE] alias list\n" \
	"\n" \
	"Aliases send mail for SOURCE to other addresses, local or remote.\n" \
	"SOURCE is an address (info@example.test), a bare local part that\n" \
	"works in every local domain (postmaster), or @DOMAIN, the catch-all\n" \
	"for addresses of DOMAIN that are no user.  Targets are full\n" \
	"addresses; an alias may name other aliases (up to 10 deep) and\n" \
	"itself, to keep a copy: alice@example.test -> alice@example.test,\n" \
	"archive@example.org.  add appends to an existing alias; del removes\n" \
	"one TARGET, or the whole alias.  list prints SOURCE TARGET,... lines.\n" \
	"\n" \
	"Exit status: 0 done; 1 failed (invalid source or target, no such\n" \
	"alias); 2 bad usage.\n"

#define ADMIN_MAP_HELP \
	"usage: buzon map compile [--keep-case] [TYPE:]FILE\n" \
	"\n" \
	"Reads the text FILE, one \"KEY VALUE\" a line (a ':' after KEY is\n" \
	"allowed, as in aliases(5); blank lines and # comments are skipped),\n" \
	"and writes the map FILE.db (TYPE hash, the default, or btree) or\n" \
	"FILE.lmdb (TYPE lmdb), replacing it in one step.  Keys are stored in\n" \
	"lower case unless --keep-case.  Every bad line is reported as\n" \
	"FILE:LINE: message, and then nothing is written.\n" \
	"\n" \
	"Exit status: 0 written; 1 bad lines or I/O error; 2 bad usage.\n"

#endif
