// esbuild bundles the stylesheet main.tsx imports into app.<hash>.css (console/assets.ts).
declare module '*.css';
