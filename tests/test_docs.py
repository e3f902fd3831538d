"""What README.md and docs/*.md name must exist.

Three checks, each a plain function over one markdown text, so the last
test can feed them a fake page and see them fail:

* **Paths.** A path candidate is a whitespace-separated token of inline
  code (outside links to web pages) or of a fenced block. Surrounding
  quotes, brackets and punctuation are stripped, and so are a ``::test``
  and a ``:line`` suffix. Skipped: tokens with a character outside
  ``[A-Za-z0-9_./-]`` (placeholders ``<id>``, ``{a,b}``, globs ``*``,
  ``$VAR``, ``key=value``), absolute paths and paths under ``work_dirs/``
  or ``data/``. A candidate is checked when it starts with a top-level
  folder of the repository (``configs/``, ``tsm_plugin/``, ``tools/``,
  ``benchmarks/``, ``tests/``, ``docs/``, ``.ci/``), is a top-level file
  (``Makefile``, ...), or holds a ``/`` before its last character and
  ends in ``.py``, ``.sh``, ``.md`` or ``/``. Every checked path must
  exist relative to the repository root: the docs write paths in full, so
  ``models/ffn_resnet.py`` is reported and
  ``tsm_plugin/models/ffn_resnet.py`` is right. Another project's file is
  written as a link to it (``[ops/dataset.py](https://...)``). Markdown
  links to local files must exist relative to the page that holds them,
  and a ``#anchor`` must be the GitHub slug of one of the target's
  headings.
* **Make targets.** Every ``make <target>`` in inline code or a fenced
  block must be a rule or a ``.PHONY`` name of the Makefile.
* **Tool flags.** In inline code and in shell blocks (no language, bash,
  sh, shell, console), every ``--flag`` after ``tools/<name>.py`` on the
  same command (``\\`` continuations joined, ``#`` comments dropped, up to
  ``;``, ``&&``, ``||`` or ``|``) must be accepted by that tool, and
  ``tools/benchmark.py <mode>`` by that mode. The accepted flags are read
  from each tool's ``--help``, run once per session for all tools in one
  interpreter (``runpy``: the tools share their heavy imports), which takes
  4-8 s on 2 shared cores, hence ``slow``.
"""

import functools
import json
import re
import subprocess
import sys

import pytest

from tests.helpers import REPO

PAGES = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]

TOP_DIRS = ('configs/', 'tsm_plugin/', 'tools/', 'benchmarks/', 'tests/')
TOP_DIRS += ('docs/', '.ci/')
TOP_FILES = {'Makefile', 'requirements.txt', 'pyproject.toml', 'README.md'}
SKIP_DIRS = ('work_dirs/', 'data/')
ENDINGS = ('.py', '.sh', '.md', '/')
SHELLS = {'', 'bash', 'sh', 'shell', 'console'}

FENCE = re.compile(r'^```([\w-]*)[^\n]*\n(.*?)^```', re.M | re.S)
WEB_LINK = re.compile(r'\[[^\]]*\]\((?:https?|mailto):[^)]*\)')
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')
INLINE = re.compile(r'`([^`\n]+)`')
MAKE = re.compile(r'(?:^|[\s;&|(])make\s+((?:-\S+\s+)*)([\w][\w.-]*)')
TOOL = re.compile(r'(?:^|[\s/])(tools/\w+\.py)\b')
FLAG = re.compile(r'(?<![\w-])--[A-Za-z0-9][\w-]*')
SUFFIX = re.compile(r'(::.*|:\d[\d,-]*)$')
PATH_CHARS = re.compile(r'[\w./-]+')


def split_page(text):
    """The page as (prose, [(language, fenced block), ...])."""
    fences = [(m.group(1).lower(), m.group(2)) for m in FENCE.finditer(text)]
    return FENCE.sub('', text), fences


def code_spans(text):
    """Inline code of the prose and the fenced blocks, with languages."""
    prose, fences = split_page(text)
    prose = WEB_LINK.sub('', prose)
    spans = [('', s) for s in INLINE.findall(prose)]
    return spans + fences


def path_candidate(token):
    """The repository path a token names, or None."""
    token = SUFFIX.sub('', token.lstrip('\'"([{`').rstrip('\'"()[]{},;:.`'))
    if not token or not PATH_CHARS.fullmatch(token):
        return None
    if token.startswith(('/', '.venv/', *SKIP_DIRS)) or '..' in token:
        return None
    if token.startswith(TOP_DIRS) or token in TOP_FILES:
        return token
    inner = token[:-1]
    if '/' in inner and token.endswith(ENDINGS):
        return token
    return None


def missing_paths(text, page):
    """Paths and local links of one page that do not exist."""
    missing = []
    for _, code in code_spans(text):
        for token in code.split():
            path = path_candidate(token)
            if path and not (REPO / path).exists():
                missing.append(path)
    prose, _ = split_page(text)
    for target in LINK.findall(prose):
        if target.startswith(('http://', 'https://', 'mailto:')):
            continue
        file, _, anchor = target.partition('#')
        path = page.parent / file if file else page
        if not path.is_file():
            missing.append(target)
        elif anchor:
            heads = text if path == page else path.read_text()
            if anchor not in anchors(heads):
                missing.append(target)
    return missing


def anchors(text):
    """GitHub's anchors of a page's headings (no repeats expected)."""
    prose, _ = split_page(text)
    heads = re.findall(r'^#+\s+(.*?)\s*$', prose, re.M)
    return {
        re.sub(r'[^\w\- ]', '', h.lower()).replace(' ', '-') for h in heads
    }


@functools.lru_cache(maxsize=None)
def make_targets():
    """Rule names and .PHONY names of the Makefile."""
    targets = set()
    for line in (REPO / 'Makefile').read_text().splitlines():
        if line.startswith('.PHONY:'):
            targets.update(line.split(':', 1)[1].split())
        elif m := re.match(r'^([\w.-]+)\s*:(?!=)', line):
            targets.add(m.group(1))
    return frozenset(targets)


def unknown_targets(text, targets):
    """``make <target>`` names of one page that the Makefile lacks."""
    found = []
    for _, code in code_spans(text):
        for line in code.splitlines():
            line = line.split(' #')[0]
            found += [m.group(2) for m in MAKE.finditer(line)]
    return [t for t in found if t not in targets]


def commands(text):
    """Shell command lines of one page: inline code and shell blocks."""
    lines = []
    for language, code in code_spans(text):
        if language not in SHELLS:
            continue
        code = code.replace('\\\n', ' ')
        for line in code.splitlines():
            line = re.sub(r'(^|\s)#.*', '', line)
            lines += re.split(r'\s(?:;|&&|\|\||\|)\s', line)
    return lines


def tool_uses(text):
    """(tool, mode, [flags]) for each ``tools/<name>.py`` command."""
    uses = []
    for line in commands(text):
        matches = list(TOOL.finditer(line))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else None
            words = line[m.end() : end].split()
            mode = None
            if m.group(1) == 'tools/benchmark.py' and words:
                if not words[0].startswith('-'):
                    mode = words[0]
            flags = FLAG.findall(' '.join(words))
            uses.append((m.group(1), mode, flags))
    return uses


def unknown_flags(text, flags_of):
    """``tool [mode] --flag`` of one page that the tool does not accept.

    ``flags_of(tool, mode)`` gives the accepted flags, or a string that
    says why there are none (an unknown tool or mode, a failing --help).
    """
    unknown = []
    for tool, mode, flags in tool_uses(text):
        name = f'{tool} {mode}' if mode else tool
        accepted = flags_of(tool, mode)
        if isinstance(accepted, str):
            unknown.append(f'{name}: {accepted}')
            continue
        unknown += [f'{name} {f}' for f in flags if f not in accepted]
    return unknown


# Runs ``<tool> [mode] --help`` for each tool in argv, and for each mode of
# a tool with subcommands (``{a,b} ...`` in its usage); prints a JSON
# {"tool [mode]": help text}.
_HELP_ALL = """
import contextlib, io, json, re, runpy, sys
OURS = ('tsm_plugin', 'benchmarks')
out, todo = {}, [[t] for t in sys.argv[1:]]
while todo:
    spec, text, old = todo.pop(0), io.StringIO(), sys.argv
    sys.argv = spec + ['--help']
    try:
        with contextlib.redirect_stdout(text):
            with contextlib.redirect_stderr(io.StringIO()):
                runpy.run_path(spec[0], run_name='__main__')
    except SystemExit:
        pass
    except Exception as e:  # reported; the next tool imports afresh
        text = io.StringIO(f'--help fails: {e!r}')
        for name in [m for m in sys.modules if m.startswith(OURS)]:
            del sys.modules[name]
    finally:
        sys.argv = old
    out[' '.join(spec)] = text = text.getvalue()
    if len(spec) == 1 and (m := re.search(r'{([\\w,]+)} [.]{3}', text)):
        todo += [spec + [mode] for mode in m.group(1).split(',')]
print(json.dumps(out))
"""


@functools.lru_cache(maxsize=None)
def help_texts():
    """``--help`` of every tools/*.py and of each benchmark mode, from one
    interpreter: the tools share their heavy imports."""
    tools = sorted(f'tools/{p.name}' for p in (REPO / 'tools').glob('*.py'))
    run = subprocess.run(
        [sys.executable, '-c', _HELP_ALL, *tools],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def accepted_flags(tool, mode):
    """The flags ``tool [mode] --help`` lists, or why there are none."""
    key = f'{tool} {mode}' if mode else tool
    text = help_texts().get(key, 'no such tool or mode')
    if not text.startswith('usage:'):
        return text.splitlines()[0]
    return set(FLAG.findall(text))


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_paths_named_in_the_docs_exist(page):
    assert missing_paths(page.read_text(), page) == []


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_make_targets_named_in_the_docs_exist(page):
    assert unknown_targets(page.read_text(), make_targets()) == []


@pytest.mark.slow
@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_tool_flags_named_in_the_docs_are_accepted(page):
    assert unknown_flags(page.read_text(), accepted_flags) == []


def test_the_readme_stays_short():
    lines = (REPO / 'README.md').read_text().splitlines()
    assert len(lines) <= 250


FAKE = """\
The recipe is `configs/tsm_r50_16f_ssv2.py`, see [data](data.md#no-such)
and `tsm_plugin/no_such_module.py` (not `models/ffn_resnet.py`); then:

```bash
make no-such-target
python tools/train.py configs/tsm_r50_16f_ssv2.py --data-root DIR \\
    --no-such-flag  # --also-not-a-flag is a comment
python tools/benchmark.py ffn --glibc-default-malloc --size 112
```
"""


@pytest.mark.slow
def test_the_checks_report_a_bad_path_target_and_flag():
    page = REPO / 'docs' / 'fake.md'
    assert missing_paths(FAKE, page) == [
        'tsm_plugin/no_such_module.py',
        'models/ffn_resnet.py',
        'data.md#no-such',
    ]
    assert unknown_targets(FAKE, make_targets()) == ['no-such-target']
    assert unknown_flags(FAKE, accepted_flags) == [
        'tools/train.py --no-such-flag'
    ]
