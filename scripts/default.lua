-- default.lua - what `engine -r capture.pcap` runs when no -s or -e is given:
-- the shipped log scripts (logs.md). Each writes one JSON stream.
require "logs.conn"
require "logs.weird"
require "logs.files"
require "logs.http"
require "logs.smtp"
require "logs.pop3"
require "logs.imap"
require "logs.ssl"
require "logs.x509"
require "logs.dns"
require "logs.ftp"
require "logs.sip"
