import 'uplot/dist/uPlot.min.css';
import './style.css';
import { App, type Route } from './app';
import { agentsPage } from './pages/agents';
import { clusterPage } from './pages/cluster';
import { comparePage } from './pages/compare';
import { runPage } from './pages/run';
import { runsPage } from './pages/runs';

const routes: Route[] = [
  { pattern: /^\/$/, names: [], nav: 'cluster', create: clusterPage },
  { pattern: /^\/runs\/?$/, names: [], nav: 'runs', create: runsPage },
  { pattern: /^\/runs\/([^/]+)\/?$/, names: ['id'], nav: 'runs', create: runPage },
  { pattern: /^\/agents\/?$/, names: [], nav: 'agents', create: agentsPage },
  { pattern: /^\/compare\/?$/, names: [], nav: 'compare', create: comparePage },
];

const mount = document.getElementById('app');
if (!mount) throw new Error('index.html has no #app element');
void new App(mount, routes).start();
