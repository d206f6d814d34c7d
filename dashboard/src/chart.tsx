import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartData {
  /** Seconds since the epoch. */
  times: number[];
  values: (number | null)[];
  min?: (number | null)[];
  max?: (number | null)[];
}

const accent = '#2563a8';
const band = 'rgba(37, 99, 168, 0.14)';

/** A uPlot chart sized to its container; a min/max band when the data has one. */
export function Chart(props: { data: ChartData; unit: string; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const hasBand = props.data.min !== undefined && props.data.max !== undefined;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const unit = props.unit;
    const fmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
    const series: uPlot.Series[] = [
      {},
      {
        label: props.label,
        stroke: accent,
        width: 1.5,
        points: { show: false },
        value: (_u, v) => (v === null ? '—' : `${fmt.format(v)}${unit ? ` ${unit}` : ''}`),
      },
    ];
    if (hasBand) {
      series.push(
        { label: 'max', stroke: 'transparent', points: { show: false } },
        { label: 'min', stroke: 'transparent', points: { show: false } },
      );
    }
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: 240,
      series,
      bands: hasBand ? [{ series: [2, 3], fill: band }] : [],
      legend: { show: true, live: true },
      cursor: { points: { size: 6 } },
      scales: { x: { time: true } },
      axes: [
        { stroke: '#52606d', grid: { stroke: '#eef1f4' }, ticks: { stroke: '#e2e6ea' } },
        {
          stroke: '#52606d',
          grid: { stroke: '#eef1f4' },
          ticks: { stroke: '#e2e6ea' },
          // Wide enough for the longest tick label, so values with units are never clipped.
          size: (_u, values) =>
            values ? Math.max(40, ...values.map((v) => v.length * 7.5 + 18)) : 50,
          values: (_u, splits) => splits.map((v) => `${fmt.format(v)}${unit ? ` ${unit}` : ''}`),
        },
      ],
    };
    const u = new uPlot(opts, toAligned(props.data, hasBand), el);
    plot.current = u;
    const observer = new ResizeObserver(() => {
      u.setSize({ width: el.clientWidth, height: 240 });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [hasBand, props.unit, props.label]);

  useEffect(() => {
    plot.current?.setData(toAligned(props.data, hasBand));
  }, [props.data]);

  return <div class="chart" ref={box} />;
}

function toAligned(data: ChartData, hasBand: boolean): uPlot.AlignedData {
  return hasBand
    ? [data.times, data.values, data.max ?? [], data.min ?? []]
    : [data.times, data.values];
}
