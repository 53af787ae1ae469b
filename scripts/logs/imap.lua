-- logs/imap.lua - the imap stream: one record per IMAP session (flow), written at
-- flow.end (../shared/spec/logs.md): user, commands, messages, fuids, as
-- logs/mail_session.lua describes. messages counts whole messages (BODY[],
-- RFC822) and header blocks fetched alone (BODY[HEADER...], RFC822.HEADER).
require("logs.mail_session")("imap")
