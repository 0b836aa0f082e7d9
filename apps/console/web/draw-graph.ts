import { NODE_HEIGHT, NODE_WIDTH, type GraphLayout } from './graph-layout';

type Context = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

const FILL = '#eef2ff';
const STROKE = '#3b5bdb';
const EDGE = '#8a93a8';
const TEXT = '#1d2330';
const MUTED = '#5c6478';

/** The most pixels a canvas side may have in the browsers the console supports. */
const MAX_SIDE = 32_000;

/**
 * Draws a laid-out workflow on a canvas: what the fold worker does with the page's transferred canvas, so drawing a
 * graph of hundreds of nodes never runs on the main thread (nor makes it lay out or paint hundreds of SVG elements).
 */
export function drawGraph(canvas: OffscreenCanvas | HTMLCanvasElement, layout: GraphLayout, scale = 1): void {
  canvas.width = Math.min(MAX_SIDE, Math.ceil(layout.width * scale));
  canvas.height = Math.min(MAX_SIDE, Math.ceil(layout.height * scale));
  const context = canvas.getContext('2d') as Context | null;
  if (!context) return;
  context.setTransform(scale, 0, 0, scale, 0, 0);
  context.clearRect(0, 0, layout.width, layout.height);
  context.lineWidth = 1.5;
  context.strokeStyle = EDGE;
  context.fillStyle = EDGE;
  for (const edge of layout.edges) {
    const [first, ...rest] = edge.points;
    if (!first) continue;
    context.beginPath();
    context.moveTo(first.x, first.y);
    for (const point of rest) context.lineTo(point.x, point.y);
    context.stroke();
    const last = edge.points.at(-1);
    const before = edge.points.at(-2);
    if (last && before) arrowHead(context, before, last);
  }
  for (const node of layout.nodes) {
    const x = node.x - NODE_WIDTH / 2;
    const y = node.y - NODE_HEIGHT / 2;
    context.beginPath();
    context.roundRect(x, y, NODE_WIDTH, NODE_HEIGHT, 6);
    context.fillStyle = FILL;
    context.fill();
    context.strokeStyle = STROKE;
    context.lineWidth = 1;
    context.stroke();
    context.fillStyle = TEXT;
    context.font = '13px system-ui, sans-serif';
    context.fillText(node.id, x + 10, y + 18, NODE_WIDTH - 16);
    context.fillStyle = MUTED;
    context.font = '11px system-ui, sans-serif';
    context.fillText(node.type, x + 10, y + 35, NODE_WIDTH - 16);
  }
}

function arrowHead(context: Context, from: { x: number; y: number }, to: { x: number; y: number }): void {
  const angle = Math.atan2(to.y - from.y, to.x - from.x);
  const size = 7;
  context.beginPath();
  context.moveTo(to.x, to.y);
  context.lineTo(to.x - size * Math.cos(angle - Math.PI / 7), to.y - size * Math.sin(angle - Math.PI / 7));
  context.lineTo(to.x - size * Math.cos(angle + Math.PI / 7), to.y - size * Math.sin(angle + Math.PI / 7));
  context.closePath();
  context.fill();
}
