export { type AttestedWorkload, attestWorkload } from './attest-workload.ts'
export { measureBundlePath } from './bundle.ts'
export { LAUNCHER_ERRORS, LauncherError, type LauncherErrorCode } from './errors.ts'
export { INJECT_ROOT, materializeInjection } from './inject.ts'
export { type LaunchResult, launchCommand } from './launch.ts'
export { createScratch, type Scratch } from './scratch.ts'
export { writeSecretFile } from './secret-file.ts'
export {
  type ConfigfsTsmOptions,
  configfsTsmTee,
  probeConfigfsTsm,
  TSM_PROVIDERS,
  TSM_ROOT,
  type TsmTee,
} from './tee/configfs-tsm.ts'
export {
  type DetectTeeOptions,
  detectTee,
  GUEST_DEVICES,
  isTeeChoice,
  TEE_CHOICES,
  type TeeChoice,
} from './tee/detect.ts'
export {
  GRAMINE_ROOT,
  type GramineOptions,
  gramineAttestationType,
  gramineTee,
} from './tee/gramine.ts'
export {
  parseSevCertTable,
  SEV_CERT_GUIDS,
  type SevCertificate,
  type SevCertificateKind,
} from './tee/sev-cert-table.ts'
export { nodeTeeFiles, type TeeFiles } from './tee/tee-files.ts'
export { simTee, type TeeProvider } from './tee.ts'
