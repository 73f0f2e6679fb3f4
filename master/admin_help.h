/*
 * admin_help.h - `buzon VERB --help` texts of the account verbs
 *
 * Defined beside each verb (admin_domain.c ...); the verb table in
 * verbs.c points at them.
 */
#ifndef BUZON_ADMIN_HELP_H
#define BUZON_ADMIN_HELP_H

extern const char admin_domain_help[];
extern const char admin_user_help[];
extern const char admin_alias_help[];
extern const char admin_map_help[];

#endif
