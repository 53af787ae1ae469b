-- logs/pop3.lua - the pop3 stream: one record per POP3 session (flow), written at
-- flow.end (../shared/spec/logs.md): user, commands, messages, fuids, as
-- logs/mail_session.lua describes. messages counts whole messages (RETR) and
-- TOP/partial ones whose header block was decoded.
require("logs.mail_session")("pop3")
