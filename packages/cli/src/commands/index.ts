import type { Command } from '../command.ts'
import { audit, policyApply, policyDryRun } from './admin.ts'
import { attestVerify } from './attest.ts'
import { auditExport, auditVerify } from './audit.ts'
import { brokerStart } from './broker.ts'
import { brokerRecover, brokerRekey } from './broker-recover.ts'
import { brokerVerify } from './broker-verify.ts'
import { demo } from './demo.ts'
import { demoHealthcare } from './demo-healthcare.ts'
import { decrypt, encrypt } from './encrypt.ts'
import { ownerRevoke, policyDiff, policyHistoryCommand, policySign } from './governance.ts'
import { modelTrain, serveModel } from './inference.ts'
import { jobValidate } from './job.ts'
import { jobRevoke } from './job-revoke.ts'
import { k8sRender } from './k8s.ts'
import { keyCreate, ownerKeygen, simKeygen } from './keys.ts'
import { parquetInspect } from './parquet.ts'
import { parquetDecrypt, parquetEncrypt } from './parquet-keys.ts'
import { parquetRotateKeys } from './parquet-rotate.ts'
import { portal } from './portal.ts'
import { policyImportScone } from './scone.ts'
import { secretImport, secretList } from './secrets.ts'
import { sparkRender } from './spark.ts'
import { sqlDecrypt } from './sql.ts'
import { launch, run } from './workload.ts'

/** Every command of `subrosa`, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  demo,
  demoHealthcare,
  brokerStart,
  brokerRecover,
  brokerRekey,
  brokerVerify,
  ownerKeygen,
  ownerRevoke,
  simKeygen,
  policySign,
  policyApply,
  policyHistoryCommand,
  policyDiff,
  policyDryRun,
  policyImportScone,
  keyCreate,
  secretImport,
  secretList,
  encrypt,
  decrypt,
  parquetInspect,
  parquetEncrypt,
  parquetDecrypt,
  parquetRotateKeys,
  sqlDecrypt,
  jobValidate,
  jobRevoke,
  sparkRender,
  run,
  launch,
  modelTrain,
  serveModel,
  attestVerify,
  k8sRender,
  audit,
  auditExport,
  auditVerify,
  portal,
]
