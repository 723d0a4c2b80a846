export { BROKER_PORT, REFERENCES } from './broker.ts'
export {
  deployTree,
  kustomizeDirectory,
  objectKey,
  renderObjects,
  sortObjects,
  toYaml,
  toYamlStream,
} from './render.ts'
export {
  DEFAULT_OPTIONS,
  type K8sObject,
  OVERLAYS,
  type OverlayName,
  type RenderOptions,
} from './types.ts'
