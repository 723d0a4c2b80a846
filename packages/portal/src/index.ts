export {
  type ClerkPortalOptions,
  clerkConfig,
  PORTAL_DIST,
  portalCsp,
  type RunningPortal,
  type ServePortalOptions,
  servePortal,
} from './serve.ts'
