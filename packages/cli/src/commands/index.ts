import type { Command } from '../command.ts'
import { audit, policyApply, policyDryRun } from './admin.ts'
import { attestVerify } from './attest.ts'
import { brokerStart } from './broker.ts'
import { demo } from './demo.ts'
import { keyCreate, ownerKeygen, simKeygen } from './keys.ts'
import { decrypt, encrypt, parquetInspect } from './parquet.ts'
import { parquetDecrypt, parquetEncrypt } from './parquet-keys.ts'
import { parquetRotateKeys } from './parquet-rotate.ts'
import { policyImportScone } from './scone.ts'
import { secretImport, secretList } from './secrets.ts'
import { launch, run } from './workload.ts'

/** Every command of `subrosa`, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  demo,
  brokerStart,
  ownerKeygen,
  simKeygen,
  policyApply,
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
  run,
  launch,
  attestVerify,
  audit,
]
