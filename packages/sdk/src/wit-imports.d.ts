// The world's interfaces exist only inside a component (componentize-js provides them); the
// generated bindings give them their types, so here they are declared without any.
declare module 'alga:extension/*';
