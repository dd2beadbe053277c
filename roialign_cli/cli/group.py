"""The top-level click group, run so that every failure is one line on stderr with a fixed exit status.

click's own standalone mode prints usage errors as three lines (`Usage:`, `Try ...`, `Error:`) and
turns a broken pipe into exit 1 only for some writes. Here the group runs with standalone mode off
and this module alone decides what a failure prints and how the process ends:

- a usage error (unknown option or command, bad value, missing argument): one line
  `roialign: error: MESSAGE (see 'roialign COMMAND --help')`, exit 2;
- a user error (`UserError`, a library `RoiAlignError`): its one line, exit 2;
- the reader of stdout went away (`| head`): nothing more, exit 1;
- Ctrl-C or end of input at a prompt: `roialign: interrupted`, exit 130;
- SIGTERM: outputs being written are cleaned up (see `output_files`), then exit 143.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

USAGE_EXIT, PIPE_EXIT, INTERRUPT_EXIT, TERM_EXIT = 2, 1, 130, 143


def one_line(text: str) -> str:
    """Collapse a message onto one line (click's messages may carry newlines and hints)."""
    return " ".join(str(text).split())


def usage_line(exc: click.UsageError) -> str:
    ctx = exc.ctx
    path = ctx.command_path if ctx is not None else "roialign"
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        message = "missing command"
    else:
        message = one_line(exc.format_message())
    return f"roialign: error: {message} (see '{path} --help')"


class OneLineGroup(click.Group):
    """A group whose `main` never lets a failure print more than one line (see the module's doc), and
    whose `lazy_commands` ({name: "module:function"} under this package) are imported only when named:
    start-up is part of the user's time, and a command's module pulls in its own dependencies."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx, cmd_name):
        if cmd_name in self.commands or cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module, _, name = self.lazy_commands[cmd_name].partition(":")
        command = getattr(importlib.import_module(f".{module}", __package__), name)
        self.add_command(command, cmd_name)
        return command

    def resolve_command(self, ctx, args):
        name = click.utils.make_str(args[0]) if args else ""
        unknown = args and not name.startswith("-") and self.get_command(ctx, name) is None
        if unknown and not ctx.resilient_parsing:  # shell completion asks with resilient parsing
            from difflib import get_close_matches

            close = get_close_matches(name, self.list_commands(ctx), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from ..output_files import Terminated, sigterm_raises

        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        code = 0
        try:
            with sigterm_raises():
                # the messages name the installed command, however this process was started (`python -m`, tests)
                returned = super().main(args, "roialign", complete_var, standalone_mode=False, **extra)
            code = returned if isinstance(returned, int) else 0
        except click.UsageError as exc:
            _say(usage_line(exc))
            code = USAGE_EXIT
        except click.ClickException as exc:
            _say(f"Error: {one_line(exc.format_message())}")
            code = exc.exit_code
        except BrokenPipeError:
            code = _quiet_broken_pipe()
        except (click.Abort, KeyboardInterrupt, EOFError):
            _say("roialign: interrupted")
            code = INTERRUPT_EXIT
        except Terminated:
            code = TERM_EXIT
        sys.exit(code)


def _say(line: str) -> None:
    try:
        click.echo(line, err=True)
    except (BrokenPipeError, ValueError):  # stderr closed too: nothing left to tell
        pass


def _quiet_broken_pipe() -> int:
    """Point stdout at /dev/null, so that the interpreter's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests): nothing to flush later
        pass
    return PIPE_EXIT
