"""Build the small real multi-domain evaluation corpus (effects, music, speech, singing) from Debian packages.

Needs the apt packages sound-theme-freedesktop, fluidsynth, fluid-soundfont-gm and espeak-ng.
Usage: python scripts/build_codec_corpus.py --output corpus/ [--sample-rate 16000] [--limit N] [--splits train eval]
The training recipes build it themselves where their corpus folder has no manifest yet.
"""

from __future__ import annotations

import sys
from collections import Counter

from foleyzoo.cli.output import CommandParser
from foleyzoo.data.corpus import DOMAINS, SPLITS, build_corpus
from foleyzoo.errors import FoleyzooError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the corpus, print a per-domain summary; 2 with a message on a known error."""
    parser = CommandParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", required=True, help="folder to write <domain>/*.wav and manifest.csv into"
    )
    parser.add_hidden_alias("--out", "--output")  # the old spelling, still accepted
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--limit", type=int, default=None, help="at most this many items a domain and split")
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    args = parser.parse_args(argv)
    try:
        entries = build_corpus(args.output, args.sample_rate, args.domains, args.limit, args.splits)
    except FoleyzooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts, seconds = Counter((e.split, e.domain) for e in entries), Counter()
    for entry in entries:
        seconds[entry.split, entry.domain] += entry.duration
    for split in args.splits:
        for domain in args.domains:
            key = (split, domain)
            print(f"{split:5s} {domain:8s} {counts[key]:3d} files {seconds[key]:6.1f} s")
    print(f"total    {len(entries):3d} files {sum(seconds.values()):6.1f} s → {args.output}/manifest.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
