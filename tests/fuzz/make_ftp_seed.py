#!/usr/bin/env python3
"""Write tests/fuzz/seeds/ftp-session.bin, a fuzz_ftp seed (see tests/fuzz/fuzz_ftp.c):
a login, PASV + LIST, PASV + RETR, PORT + STOR on data connections, a multi-line reply,
Telnet IAC, and AUTH TLS followed by TLS records and clear text (CCC)."""
import sys

out = bytearray()

def ctl(direction, text):
    b = text.encode('latin-1') if isinstance(text, str) else text
    for i in range(0, len(b), 0x3f):
        part = b[i:i + 0x3f]
        out.append((0x80 if direction else 0) | len(part))
        out.extend(part)

def data(slot, from_resp, payload, close=False, active=False):
    for i in range(0, max(len(payload), 1), 255):
        part = payload[i:i + 255]
        last = i + 255 >= len(payload)
        op = (slot & 3) | (4 if from_resp else 0) | (8 if close and last else 0) | (16 if active else 0)
        out.extend(bytes([0, op, len(part)]))
        out.extend(part)

S, C = 1, 0
ctl(S, "220-vsFTPd\r\n220 ready\r\n")
ctl(C, "USER alice\r\n"); ctl(S, "331 Please specify the password.\r\n")
ctl(C, "PASS s3cret\r\n"); ctl(S, "230 Login successful.\r\n")
ctl(C, "FEAT\r\n"); ctl(S, "211-Features:\r\n EPSV\r\n PASV\r\n211 End\r\n")
ctl(C, "PASV\r\n"); ctl(S, "227 Entering Passive Mode (10,0,0,2,156,64).\r\n")
ctl(C, "LIST\r\n"); data(0, True, b""); ctl(S, "150 Here comes the directory listing.\r\n")
data(0, True, b"-rw-r--r-- 1 0 0 5 Jan 01 a.txt\r\n", close=True); ctl(S, "226 Directory send OK.\r\n")
ctl(C, "PASV\r\n"); ctl(S, "227 Entering Passive Mode (10,0,0,2,156,65).\r\n")
ctl(C, "RETR a.txt\r\n"); ctl(S, "150 Opening BINARY mode data connection.\r\n")
data(1, True, b"%PDF-1.4 hello world " * 20, close=True); ctl(S, "226 Transfer complete.\r\n")
ctl(C, "PORT 10,0,0,1,195,80\r\n"); ctl(S, "200 PORT command successful.\r\n")
ctl(C, "STOR b.txt\r\n"); data(0, False, b"", active=True); ctl(S, "150 Ok to send data.\r\n")
data(0, True, b"uploaded bytes\n" * 10, close=True, active=True); ctl(S, "226 Transfer complete.\r\n")
ctl(C, "EPSV\r\n"); ctl(S, "229 Entering Extended Passive Mode (|||40002|)\r\n")
ctl(C, b"\xff\xf4\xff\xf2ABOR\r\n"); ctl(S, "226 ABOR successful\r\n")
ctl(C, "AUTH TLS\r\n"); ctl(S, "234 Proceed with negotiation.\r\n")
ctl(C, bytes([0x16, 3, 1, 0, 4]) + b"abcd"); ctl(S, bytes([0x17, 3, 3, 0, 2]) + b"xy")
ctl(C, bytes([0x15, 3, 3, 0, 2, 1, 0])); ctl(S, bytes([0x15, 3, 3, 0, 2, 1, 0]))
ctl(C, "PASV\r\n"); ctl(S, "227 Entering Passive Mode (10,0,0,2,156,66)\r\n")
out.extend(bytes([0x40, 50]))
ctl(C, "QUIT\r\n"); ctl(S, "221 Goodbye.\r\n")
open(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/seeds/ftp-session.bin", "wb").write(out)
