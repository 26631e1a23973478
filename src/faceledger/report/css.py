"""The style sheet the report's pages share (:mod:`.html` and the ``evaluate --html`` page of
:mod:`.evaluation`): print-ready, no external font or URL."""

CSS = """
:root { --ink:#1b1b1b; --muted:#555; --rule:#d0d0d0; --block:#D55E00; --allow:#009E73;
        --accent:#0072B2; --warn:#E69F00; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 60rem; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-top: .6rem; border-top: 2px solid var(--ink);
     break-after: avoid; }
h3 { font-size: 1.02rem; margin: 1.2rem 0 .4rem; break-after: avoid; }
p, li { max-width: 48rem; }
.meta { color: var(--muted); margin: 0 0 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(10.5rem, 1fr)); gap: .6rem;
         margin: 1rem 0; }
.card { border: 1px solid var(--rule); border-left: 6px solid var(--accent); padding: .5rem .7rem;
        break-inside: avoid; }
.card .value { font-size: 1.5rem; font-weight: bold; display: block; }
.card .label { font-size: .85rem; color: var(--muted); }
.card.bad { border-left-color: var(--block); } .card.good { border-left-color: var(--allow); }
.card.warn { border-left-color: var(--warn); }
.card.uncertain { border-left-color: #F0E442; border-left-style: dashed; }
.warning { border-left: 4px solid var(--warn); padding: .2rem .6rem; background: #fff8e6; }
.status-bad { color: var(--block); font-weight: bold; } .status-good { color: var(--allow); font-weight: bold; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; break-inside: auto; }
th, td { border-bottom: 1px solid var(--rule); padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; }
figure { margin: 1rem 0 1.4rem; break-inside: avoid; }
figure svg.chart { display: block; max-width: 100%; height: auto; }
figcaption { font-size: .88rem; color: var(--muted); margin-top: .3rem; }
.empty { color: var(--muted); font-style: italic; }
.note { font-size: .85rem; color: var(--muted); }
nav ol { columns: 3; font-size: .9rem; padding-left: 1.2rem; }
a { color: var(--accent); }
.changes li.up { color: var(--block); }
@page { size: A4; margin: 14mm 12mm; }
@media print { body { padding: 0; max-width: none; font-size: 11px; } nav { display: none; } }
"""
