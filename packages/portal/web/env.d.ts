// Vite imports the stylesheet from main.tsx; it has no exports.
declare module '*.css' {}
