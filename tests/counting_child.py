"""The trace child (inspector.trace.child), run with the prototxt's parsers counted.

    python tests/counting_child.py --events-fd N --config JSON

Counts, for the net the config names, the project's NetSpec parses (inspector.prototxt's
parse_text) and Caffe schema parses (text_format.Parse into a caffe_pb2.NetParameter), and prints
them as the last line of stdout: `COUNTS {"netspec": 1, "caffe_schema": 1}`. The nets Caffe
builds are counted by the test from Caffe's own log (Net::Init's "Initializing net from
parameters" line, with GLOG_minloglevel=0).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

COUNTS_PREFIX = "COUNTS "


def main(argv: list[str]) -> int:
    import google.protobuf.text_format as text_format

    import inspector.prototxt.net as prototxt_net
    from inspector.trace import child

    config = json.loads(argv[argv.index("--config") + 1])
    net = str(Path(config["net"]).resolve())
    counts: Counter[str] = Counter()
    parse_text, parse_schema = prototxt_net.parse_text, text_format.Parse

    def counting_parse_text(text, source="<text>"):
        counts["netspec"] += str(Path(source).resolve()) == net
        return parse_text(text, source)

    def counting_parse_schema(text, message, *args, **kwargs):
        counts["caffe_schema"] += type(message).__name__ == "NetParameter"
        return parse_schema(text, message, *args, **kwargs)

    prototxt_net.parse_text = counting_parse_text
    text_format.Parse = counting_parse_schema
    try:
        return child.main(argv)
    finally:
        print(COUNTS_PREFIX + json.dumps(dict(counts)), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
