/** A small trend line as SVG; an image with a name, since its meaning is the shape. */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const width = 240;
  const height = 48;
  if (values.length < 2) {
    return (
      <div class="sparkline empty-spark" role="img" aria-label={`${label}: not enough readings`}>
        <span aria-hidden="true">—</span>
      </div>
    );
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min || 1;
  const step = width / (values.length - 1);
  const points = values
    .map(
      (v, i) =>
        `${(i * step).toFixed(1)},${(height - 4 - ((v - min) / span) * (height - 8)).toFixed(1)}`,
    )
    .join(' ');
  return (
    <svg
      class="sparkline"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
    >
      <polyline points={`0,${height} ${points} ${width},${height}`} class="spark-fill" />
      <polyline points={points} class="spark-line" fill="none" />
    </svg>
  );
}
