"""Runs a command on a pseudo-terminal, as a person at a shell would.

    python3 on_a_terminal.py ANSWER COMMAND [ARG...]

stdin, stdout and stderr of COMMAND are the terminal. When it prints `[y/N]`
the ANSWER is typed (an empty ANSWER types nothing). Everything COMMAND
printed goes to stdout; the exit code is COMMAND's. Gives up after 60 s of
silence.
"""
import os
import pty
import select
import sys

answer, command = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)
seen = b""
typed = False
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        os.kill(pid, 9)
        break
    try:
        chunk = os.read(fd, 4096)
    except OSError:  # the terminal closed: the command exited
        break
    if not chunk:
        break
    seen += chunk
    if answer and not typed and b"[y/N]" in seen:
        os.write(fd, (answer + "\n").encode())
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
