/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <time.h>

#include "received.h"

static void
utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

Test(received, plain_one_rcpt, .init = utc)
{
	struct received_info r = {
		.helo = "pc23.ejemplo.com", .ip = "127.0.0.1",
		.hostname = "mail.example.test", .esmtp = false,
		.queue_id = "4F1C2A3B4C", .rcpt = "bob@example.test",
		.when = 1795395723,
	};
	struct str out;

	str_init(&out, 0);
	cr_assert_eq(received_format(&r, &out), 0);
	cr_assert_str_eq(str_c(&out),
	    "Received: from pc23.ejemplo.com (unknown [127.0.0.1])\r\n"
	    "\tby mail.example.test (buzon) with SMTP id 4F1C2A3B4C\r\n"
	    "\tfor <bob@example.test>; Mon, 23 Nov 2026 01:02:03 +0000\r\n");
	str_release(&out);
}

Test(received, tls_auth_many_rcpts, .init = utc)
{
	struct received_info r = {
		.helo = "[127.0.0.1]", .rdns = "localhost", .ip = "127.0.0.1",
		.tls = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
		.auth_user = "alice@example.test",
		.hostname = "mail.example.test", .esmtp = true,
		.queue_id = "X1", .rcpt = NULL, .when = 1795395723,
	};
	struct str out;

	str_init(&out, 0);
	cr_assert_eq(received_format(&r, &out), 0);
	cr_assert_str_eq(str_c(&out),
	    "Received: from [127.0.0.1] (localhost [127.0.0.1])\r\n"
	    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
	    "\t(Authenticated sender: alice@example.test)\r\n"
	    "\tby mail.example.test (buzon) with ESMTPSA id X1; "
	    "Mon, 23 Nov 2026 01:02:03 +0000\r\n");
	str_release(&out);
}

Test(received, hostile_helo_cleaned, .init = utc)
{
	struct received_info r = {
		.helo = "evil)\r\nX-Injected: yes (", .ip = "192.0.2.7",
		.hostname = "h", .esmtp = true, .queue_id = "Q",
		.when = 0,
	};
	struct str out;

	str_init(&out, 0);
	cr_assert_eq(received_format(&r, &out), 0);
	cr_assert_str_eq(str_c(&out),
	    "Received: from evil???X-Injected:?yes?? (unknown [192.0.2.7])\r\n"
	    "\tby h (buzon) with ESMTP id Q; Thu, 1 Jan 1970 00:00:00 +0000\r\n");
	str_release(&out);
}

Test(received, protocols)
{
	struct received_info r = { .esmtp = true };

	cr_assert_str_eq(received_protocol(&r), "ESMTP");
	r.tls = "x";
	cr_assert_str_eq(received_protocol(&r), "ESMTPS");
	r.auth_user = "u";
	cr_assert_str_eq(received_protocol(&r), "ESMTPSA");
	r.smtputf8 = true;
	cr_assert_str_eq(received_protocol(&r), "UTF8SMTPSA");
	r.tls = NULL;
	cr_assert_str_eq(received_protocol(&r), "UTF8SMTPA");
	r.esmtp = false;
	cr_assert_str_eq(received_protocol(&r), "SMTP");
}

Test(received, bounded)
{
	struct received_info r = {
		.helo = "x", .ip = "127.0.0.1", .hostname = "h", .esmtp = true,
		.queue_id = "Q", .when = 0,
	};
	struct str out;

	str_init(&out, 20);
	cr_assert_eq(received_format(&r, &out), -1);
	str_release(&out);
}
